using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// Connections held open and silent while the figures run (-IdleConnections): the select() lesson, where a
    /// server's every wake-up costs more the more connections it holds. Each connection is opened and makes one
    /// small echo (verified), which proves the server took it; then it says nothing until the run ends. A server
    /// that cannot hold them all (a blocking one serves the first and no other) is a result: held of asked.
    /// </summary>
    internal sealed class IdleConnections : IDisposable
    {
        private readonly ProbeSockets _sockets = new ProbeSockets();
        private Socket[] _held = new Socket[0];

        /// <summary>Connections asked for.</summary>
        internal int Asked { get; private set; }

        /// <summary>Connections that connected and echoed their one message within the wait.</summary>
        internal int Held { get; private set; }

        /// <summary>Opens the connections, each with one echo, waiting for them at most the time given.</summary>
        internal static IdleConnections Open(IPEndPoint endPoint, int count, int size, TimeSpan wait, Func<bool> cancelled)
        {
            var idle = new IdleConnections { Asked = count };
            var pattern = RepeatingPattern.Create(null, size);
            var echoed = new Socket[count];
            var opened = new Socket[count];
            var tasks = new Task[count];
            for (int i = 0; i < count; i++)
            {
                if (cancelled())
                {
                    idle.Dispose();
                    throw new OperationCanceledException();
                }
                tasks[i] = OneAsync(endPoint, idle._sockets, pattern, i, size, opened, echoed);
            }
            long deadline = Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
            var all = Task.WhenAll(tasks);
            while (!all.IsCompleted && Stopwatch.GetTimestamp() < deadline)
            {
                if (cancelled())
                {
                    idle.Dispose();
                    throw new OperationCanceledException();
                }
                all.ContinueWith(_ => { }, TaskScheduler.Default).Wait(100);
            }
            // Those still waiting for their echo are closed: not held.
            var held = new System.Collections.Generic.List<Socket>();
            for (int i = 0; i < count; i++)
            {
                var socket = Volatile.Read(ref echoed[i]);
                if (socket != null)
                    held.Add(socket);
                else if (Volatile.Read(ref opened[i]) is Socket other)
                    idle._sockets.Close(other);
            }
            idle._held = held.ToArray();
            idle.Held = held.Count;
            return idle;
        }

        /// <summary>How many held connections the server still has open (none reset or closed by the server).</summary>
        internal int StillOpen() => _held.Count(s =>
        {
            try
            {
                // Readable with nothing to read is an end of stream (or a reset): the server let it go.
                return !(s.Poll(0, SelectMode.SelectRead) && s.Available == 0);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                return false;
            }
        });

        /// <summary>Closes every connection.</summary>
        public void Dispose() => _sockets.Dispose();

        private static async Task OneAsync(IPEndPoint endPoint, ProbeSockets sockets, RepeatingPattern pattern, int client, int size, Socket[] opened, Socket[] echoed)
        {
            try
            {
                var socket = sockets.Open(endPoint.AddressFamily);
                Volatile.Write(ref opened[client], socket);
                await socket.ConnectAsync(endPoint).ConfigureAwait(false);
                int offset = pattern.OffsetAt((long)client * size);
                var readBack = new byte[size];
                if (await ProbeSockets.EchoAsync(socket, pattern.Bytes, offset, size, readBack).ConfigureAwait(false) == size
                    && ProbeSockets.SameBytes(pattern.Bytes, offset, readBack, size))
                    Volatile.Write(ref echoed[client], socket);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException || ex is OperationCanceledException)
            {
                // not held: counted by Held
            }
        }
    }
}
