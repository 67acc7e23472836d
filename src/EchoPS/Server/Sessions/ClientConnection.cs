using System;
using System.Net;
using System.Net.Sockets;
using EchoPS.Net;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// One accepted client. On Linux a bare descriptor from accept4 (see <see cref="LinuxSocketCalls"/>): no Socket
    /// object per connection, and no per-connection setsockopt, as the options come from the listener. Elsewhere a
    /// Socket, with the options set on it after accept. The server thread owns it: only that thread receives, sends
    /// and closes; other threads only shut it down, which wakes a blocked receive or send. On Linux a closed
    /// connection object is reused for the next accept (see <see cref="FromDescriptor"/>): nothing may hold one past
    /// its close but for reading its remote endpoint.
    /// </summary>
    internal sealed class ClientConnection : ISessionConnection
    {
        private readonly Socket _socket;
        private int _descriptor;
        private int _closed;

        private ClientConnection(Socket socket, int descriptor, IPAddress address, int port)
        {
            _socket = socket;
            _descriptor = descriptor;
            RemoteAddress = address;
            RemotePort = port;
        }

        /// <summary>The client's address, IPv4-mapped ones (from a dual-stack listener) unmapped.</summary>
        public IPAddress RemoteAddress { get; private set; }

        /// <summary>The client's port.</summary>
        public int RemotePort { get; private set; }

        /// <summary>The client's endpoint, made when asked for (Get-BlockingEchoServer's CurrentClient); from any thread.</summary>
        public IPEndPoint RemoteEndPoint => new IPEndPoint(RemoteAddress, RemotePort);

        /// <summary>
        /// A client accepted through accept4 on Linux, with the sockaddr accept4 filled. <paramref name="spare"/>, the
        /// previous connection, is reused when it is closed (always, in the blocking model, which accepts only after
        /// the previous client's close), so that an accept allocates nothing.
        /// </summary>
        /// <param name="descriptor">accept4's descriptor.</param>
        /// <param name="address">The sockaddr accept4 filled.</param>
        /// <param name="last">The previous client's address, reused when this one has the same (see <see cref="LinuxSocketCalls.ToAddress"/>).</param>
        /// <param name="spare">The connection returned last time, or null.</param>
        public static ClientConnection FromDescriptor(int descriptor, byte[] address, LinuxSocketCalls.AddressCache last, ClientConnection spare)
        {
            try
            {
                var remote = LinuxSocketCalls.ToAddress(address, last, out int port);
                if (spare == null || spare._socket != null || System.Threading.Volatile.Read(ref spare._closed) == 0)
                    return new ClientConnection(null, descriptor, remote, port);
                spare._descriptor = descriptor;
                spare.RemoteAddress = remote;
                spare.RemotePort = port;
                System.Threading.Volatile.Write(ref spare._closed, 0);
                return spare;
            }
            catch
            {
                LinuxSocketCalls.Close(descriptor);
                throw;
            }
        }

        /// <summary>A client accepted through Socket.Accept on the portable path.</summary>
        public static ClientConnection FromSocket(Socket socket)
        {
            var remote = Addressing.Unmap((IPEndPoint)socket.RemoteEndPoint);
            return new ClientConnection(socket, -1, remote.Address, remote.Port);
        }

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
        public void Shutdown() => Shutdown(SocketShutdown.Both);

        /// <summary>
        /// Shuts the sending side down (a FIN after what was written), from any thread; a blocked send fails. Ignores
        /// errors, and never touches a closed connection.
        /// </summary>
        public void ShutdownSend() => Shutdown(SocketShutdown.Send);

        private void Shutdown(SocketShutdown how)
        {
            if (System.Threading.Volatile.Read(ref _closed) != 0)
                return;
            if (_socket != null)
                SocketClose.TryShutdown(_socket, how);
            else if (how == SocketShutdown.Send)
                LinuxSocketCalls.ShutdownSend(_descriptor);
            else
                LinuxSocketCalls.Shutdown(_descriptor);
        }

        /// <summary>Ends a connection with nothing to wait for (refused, reset, failed): shut down both ways, then closed.</summary>
        public void Abort()
        {
            Shutdown();
            Close();
        }

        /// <summary>
        /// Ends a connection whose client has proven it does not read (the send timeout): reset at once (SO_LINGER 0,
        /// then close), so neither the slot nor the kernel keeps its unread echo; the server thread's call.
        /// </summary>
        public void Reset()
        {
            if (System.Threading.Volatile.Read(ref _closed) != 0)
                return;
            try
            {
                if (_socket != null)
                    _socket.LingerState = new LingerOption(true, 0);
                else
                    LinuxSocketCalls.SetResetOnClose(_descriptor);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Already reset or closed: the close below is all that is left.
            }
            Close();
        }

        /// <summary>
        /// A stop reaching the connection, from any thread, without losing echo: the sending side is shut first (a FIN
        /// after the echo, and a blocked write fails), so no send can add echo after the look that follows; when the
        /// client then has every byte but the FIN, shutting it down both ways wakes a blocked read at once (true);
        /// otherwise the caller forces the rest later with <see cref="ForceWake"/> (false). (Looking first let a send
        /// slip in between, its echo counted and then lost to the reset of a close while the client kept sending.)
        /// </summary>
        public bool WakeForStop()
        {
            ShutdownSend();
            var unacknowledged = Unacknowledged();
            if (unacknowledged.HasValue && LingerRule.Lost(unacknowledged) == 0) // nothing but the FIN in flight
            {
                ForceWake();
                return true;
            }
            return false;
        }

        /// <summary>
        /// Wakes the server thread wherever it is blocked on this connection: shutting it down both ways fails a
        /// blocked read or write at once. Closing it here too is safe only where every call on it goes through the
        /// Socket (see LinuxSocketCalls); otherwise the server thread closes it.
        /// </summary>
        public void ForceWake()
        {
            Shutdown();
            if (!LinuxSocketCalls.Available)
                Close();
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
