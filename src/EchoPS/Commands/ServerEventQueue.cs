using System;
using System.Collections.Concurrent;
using System.Threading;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>
    /// Hands server events from the server thread to the pipeline thread, the only one allowed to write them out.
    /// Bounded: when the console cannot keep up, events beyond <see cref="EchoServerOptions.MaxHeldEvents"/> are
    /// dropped and counted rather than memory growing without end or the server slowing down to the speed of the
    /// console. (Under a flood the server folds client events into summaries first, so this rarely fills.) The final
    /// Stopped event is never dropped, so the reader can always wait for it.
    /// </summary>
    internal sealed class ServerEventQueue : IDisposable
    {
        private readonly ConcurrentQueue<EchoServerEvent> _events = new ConcurrentQueue<EchoServerEvent>();
        private readonly SemaphoreSlim _available = new SemaphoreSlim(0);
        private int _count;
        private long _dropped;

        /// <summary>Queues an event without ever blocking the server thread (and the folder's timer).</summary>
        public void Post(EchoServerEvent e)
        {
            if (e.Kind != EchoServerEventKind.Stopped && Volatile.Read(ref _count) >= EchoServerOptions.MaxHeldEvents)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            Interlocked.Increment(ref _count);
            _events.Enqueue(e);
            _available.Release();
        }

        /// <summary>Blocks until the next event; the server's last event, Stopped, always comes.</summary>
        public EchoServerEvent Take()
        {
            _available.Wait();
            _events.TryDequeue(out var e);
            Interlocked.Decrement(ref _count);
            return e;
        }

        /// <summary>Takes the next queued event without waiting; false when none is queued.</summary>
        public bool TryTake(out EchoServerEvent e)
        {
            e = null;
            if (!_available.Wait(0))
                return false;
            _events.TryDequeue(out e);
            Interlocked.Decrement(ref _count);
            return true;
        }

        /// <summary>How many events were dropped and not yet reported.</summary>
        public long DroppedCount => Interlocked.Read(ref _dropped);

        /// <summary>How many events were dropped since the last call.</summary>
        public long TakeDroppedCount() => Interlocked.Exchange(ref _dropped, 0);

        /// <inheritdoc />
        public void Dispose() => _available.Dispose();
    }
}
