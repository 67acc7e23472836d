using System;
using System.Collections.Concurrent;
using System.Threading;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>
    /// Hands server events from the server thread to the pipeline thread, the only one allowed to write them out.
    /// Bounded: when the console cannot keep up (thousands of connections a second), rows are dropped and counted
    /// rather than memory growing without end or the server slowing down to the speed of the console.
    /// </summary>
    internal sealed class ServerEventQueue : IDisposable
    {
        private const int Capacity = 10000;
        private readonly BlockingCollection<EchoServerEvent> _events = new BlockingCollection<EchoServerEvent>(Capacity);
        private long _dropped;

        /// <summary>Queues an event without ever blocking the server thread.</summary>
        public void Post(EchoServerEvent e)
        {
            if (!_events.TryAdd(e))
                Interlocked.Increment(ref _dropped);
        }

        /// <summary>Waits up to <paramref name="wait"/> for the next event.</summary>
        public bool TryTake(out EchoServerEvent e, TimeSpan wait) => _events.TryTake(out e, wait);

        /// <summary>Whether nothing is waiting.</summary>
        public bool IsEmpty => _events.Count == 0;

        /// <summary>How many events were dropped since the last call.</summary>
        public long TakeDroppedCount() => Interlocked.Exchange(ref _dropped, 0);

        /// <inheritdoc />
        public void Dispose() => _events.Dispose();
    }
}
