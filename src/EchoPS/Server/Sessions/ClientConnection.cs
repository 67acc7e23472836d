using System;
using System.Net;
using System.Net.Sockets;

namespace EchoPS.Server
{
    /// <summary>
    /// One accepted client. On Linux a bare descriptor from accept4 (see <see cref="LinuxSocketCalls"/>): no Socket
    /// object per connection, and no per-connection setsockopt, as the options come from the listener. Elsewhere a
    /// Socket, with the options set on it after accept. The server thread owns it: only that thread receives, sends
    /// and closes; other threads only shut it down, which wakes a blocked receive or send.
    /// </summary>
    internal sealed class ClientConnection
    {
        private readonly Socket _socket;
        private readonly int _descriptor;
        private int _closed;

        private ClientConnection(Socket socket, int descriptor, IPEndPoint remote)
        {
            _socket = socket;
            _descriptor = descriptor;
            RemoteEndPoint = remote;
        }

        /// <summary>The client's endpoint as the kernel reported it (IPv4-mapped on a dual-stack listener).</summary>
        public IPEndPoint RemoteEndPoint { get; }

        /// <summary>A client accepted through accept4 on Linux, with the sockaddr accept4 filled.</summary>
        public static ClientConnection FromDescriptor(int descriptor, byte[] address)
        {
            try
            {
                return new ClientConnection(null, descriptor, LinuxSocketCalls.ToEndPoint(address));
            }
            catch
            {
                LinuxSocketCalls.Close(descriptor);
                throw;
            }
        }

        /// <summary>A client accepted through Socket.Accept on the portable path.</summary>
        public static ClientConnection FromSocket(Socket socket) =>
            new ClientConnection(socket, -1, socket.RemoteEndPoint as IPEndPoint);

        /// <summary>Reads up to <paramref name="count"/> bytes; 0 at end of stream. Throws SocketException.</summary>
        public int Receive(byte[] buffer, int offset, int count) => _socket == null
            ? LinuxSocketCalls.Receive(_descriptor, buffer, offset, count)
            : _socket.Receive(buffer, offset, count, SocketFlags.None);

        /// <summary>Writes up to <paramref name="count"/> bytes and says how many went. Throws SocketException.</summary>
        public int Send(byte[] buffer, int offset, int count) => _socket == null
            ? LinuxSocketCalls.Send(_descriptor, buffer, offset, count)
            : _socket.Send(buffer, offset, count, SocketFlags.None);

        /// <summary>Sets SO_RCVTIMEO or SO_SNDTIMEO of this connection, in milliseconds (0 = none).</summary>
        public void SetTimeout(SocketOptionName option, int milliseconds)
        {
            if (_socket != null)
            {
                _socket.SetSocketOption(SocketOptionLevel.Socket, option, milliseconds);
                return;
            }
            LinuxSocketCalls.SetTimeout(_descriptor, option == SocketOptionName.SendTimeout, milliseconds);
        }

        /// <summary>
        /// Shuts both directions down, from any thread: a blocked receive or send fails at once. Ignores errors (a
        /// client that reset has nothing blocked on it). Never touches a closed connection.
        /// </summary>
        public void Shutdown()
        {
            if (System.Threading.Volatile.Read(ref _closed) != 0)
                return;
            if (_socket == null)
            {
                LinuxSocketCalls.Shutdown(_descriptor);
                return;
            }
            try
            {
                if (_socket.Connected)
                    _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Already reset or closed: nothing is blocked on it any more.
            }
        }

        /// <summary>
        /// Shuts the sending side down (a FIN after what was written), from any thread; a blocked send fails. Ignores
        /// errors, and never touches a closed connection.
        /// </summary>
        public void ShutdownSend()
        {
            if (System.Threading.Volatile.Read(ref _closed) != 0)
                return;
            if (_socket == null)
            {
                LinuxSocketCalls.ShutdownSend(_descriptor);
                return;
            }
            try
            {
                if (_socket.Connected)
                    _socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Already reset or closed.
            }
        }

        /// <summary>Waits up to <paramref name="microseconds"/> for input (or end of stream, or an error) to read.</summary>
        public bool PollRead(int microseconds) => _socket == null
            ? LinuxSocketCalls.PollRead(_descriptor, microseconds)
            : _socket.Poll(microseconds, SelectMode.SelectRead);

        /// <summary>Bytes written that the peer has not acknowledged, a FIN counting one; null where the system does not say.</summary>
        public int? Unacknowledged() => System.Threading.Volatile.Read(ref _closed) != 0 ? null : LinuxTcpInfo.Unacknowledged(LinuxDescriptor);

        /// <summary>How long ago the connection was established, read right after accept; null where the system does not say.</summary>
        public TimeSpan? SinceEstablished() => LinuxTcpInfo.SinceEstablished(LinuxDescriptor);

        // The descriptor the Linux queries read: accept4's, or the Socket's own on the portable path (-1 elsewhere).
        private int LinuxDescriptor => _socket == null ? _descriptor : LinuxSocketCalls.Available ? (int)_socket.Handle : -1;

        /// <summary>Closes the connection; the server thread's call, once no other thread can reach it.</summary>
        public void Close()
        {
            if (System.Threading.Interlocked.Exchange(ref _closed, 1) != 0)
                return;
            if (_socket == null)
                LinuxSocketCalls.Close(_descriptor);
            else
                _socket.Dispose();
        }
    }
}
