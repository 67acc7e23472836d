using System;
using System.Collections.Generic;
using System.Net.Sockets;

namespace EchoPS.Net
{
    /// <summary>
    /// The sockets a run has open, so that closing them all (a cancel, a deadline) wakes every blocked or pending
    /// connect, send and receive on them. Thread-safe. Used by the client and by the measurer's probes.
    /// </summary>
    internal class SocketSet : IDisposable
    {
        private readonly HashSet<Socket> _open = new HashSet<Socket>();
        private readonly Func<bool> _refuse;
        private bool _disposed;

        /// <param name="refuse">Asked under the set's lock before a socket is added: true refuses it (the run was cancelled or its deadline passed), so that no socket opens after a close-all.</param>
        internal SocketSet(Func<bool> refuse = null)
        {
            _refuse = refuse;
        }

        /// <summary>How many sockets are open.</summary>
        internal int Count
        {
            get { lock (_open) return _open.Count; }
        }

        /// <summary>
        /// A new TCP socket with TCP_NODELAY as asked and both socket timeouts (ms, 0 = none), tracked; null, with the
        /// socket closed, when the set is disposed or refuses new sockets now.
        /// </summary>
        internal Socket Open(AddressFamily family, bool noDelay, int timeoutMs = 0)
        {
            var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.NoDelay = noDelay;
                if (timeoutMs > 0)
                    socket.ReceiveTimeout = socket.SendTimeout = timeoutMs;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            lock (_open)
            {
                if (_disposed || (_refuse?.Invoke() ?? false))
                {
                    socket.Dispose();
                    return null;
                }
                _open.Add(socket);
            }
            return socket;
        }

        /// <summary>Closes one socket and forgets it.</summary>
        internal void Close(Socket socket)
        {
            if (socket == null)
                return;
            lock (_open)
                _open.Remove(socket);
            socket.Dispose();
        }

        /// <summary>Closes every socket open now; later ones may still open (unless refused).</summary>
        internal void CloseAll() => CloseAll(false);

        /// <summary>Closes every socket, and refuses any opened later.</summary>
        public void Dispose() => CloseAll(true);

        private void CloseAll(bool forever)
        {
            Socket[] all;
            lock (_open)
            {
                _disposed |= forever;
                all = new Socket[_open.Count];
                _open.CopyTo(all);
                _open.Clear();
            }
            foreach (var socket in all)
                socket.Dispose();
        }
    }

    /// <summary>Ending a socket's use, written once: a shutdown that wakes blocked calls and may meet a socket already gone.</summary>
    internal static class SocketClose
    {
        /// <summary>
        /// Shuts the directions given down, ignoring errors: a peer that reset, or a socket already closed, has nothing
        /// blocked on it any more.
        /// </summary>
        internal static void TryShutdown(Socket socket, SocketShutdown how)
        {
            try
            {
                if (socket.Connected)
                    socket.Shutdown(how);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Already reset or closed.
            }
        }
    }
}
