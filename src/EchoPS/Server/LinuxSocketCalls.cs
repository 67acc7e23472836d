using System;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EchoPS.Server
{
    /// <summary>
    /// accept4, recv, send, poll, shutdown and close straight into the C library on Linux, for the accept and echo loop.
    /// </summary>
    /// <remarks>
    /// Measured against a C server on one pinned CPU, System.Net.Sockets' own bookkeeping per call (safe-handle
    /// reference counting, argument checks, error translation) put the round-trip p50 at 1.065x of C; these two calls
    /// bring it to about 1.02x. The syscalls are the same ones (one recv and one send per echo). The caller keeps the
    /// Socket alive and disposes it on its own thread, so the descriptor cannot be closed and reused under a call:
    /// other threads only shut it down, which wakes a blocked recv or send.
    /// Accepting here too leaves no Socket object (nor its handle, address and bookkeeping) per connection: a client is
    /// a bare descriptor from accept4 to close, and its options (TCP_NODELAY, SO_RCVTIMEO, SO_SNDTIMEO) are the
    /// listener's, which Linux copies to every socket it accepts. A connection is then accept4, recv, send, recv,
    /// close: five syscalls for one small echo, where the C server (which sets TCP_NODELAY per client) makes six.
    /// </remarks>
    internal static class LinuxSocketCalls
    {
        // errno values and flags of Linux (the same on every architecture .NET supports there).
        private const int EINTR = 4, EAGAIN = 11, ENOMEM = 12, EINVAL = 22, ENFILE = 23, EMFILE = 24, EPIPE = 32;
        private const int ECONNABORTED = 103, ECONNRESET = 104, ENOBUFS = 105, ETIMEDOUT = 110;
        private const int MSG_NOSIGNAL = 0x4000, SOCK_CLOEXEC = 0x80000, SHUT_WR = 1, SHUT_RDWR = 2;
        private const short POLLIN = 0x1;
        private const int AF_INET = 2, AF_INET6 = 10, SOL_SOCKET = 1, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21, SO_LINGER = 13;

        /// <summary>Bytes of a sockaddr_in6, the larger of the two addresses accept4 may return.</summary>
        internal const int AddressBufferSize = 28;

        /// <summary>Whether this process can use these calls: Linux only.</summary>
        internal static readonly bool Available = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        /// <summary>Reads up to <paramref name="count"/> bytes; 0 at end of stream. Throws SocketException as Socket.Receive does.</summary>
        internal static int Receive(int descriptor, byte[] buffer, int offset, int count)
        {
            while (true)
            {
                long n = (long)Recv(descriptor, ref buffer[offset], (UIntPtr)count, 0);
                if (n >= 0)
                    return (int)n;
                ThrowUnlessInterrupted(Marshal.GetLastWin32Error());
            }
        }

        /// <summary>Writes up to <paramref name="count"/> bytes and says how many went. Never raises SIGPIPE.</summary>
        internal static int Send(int descriptor, byte[] buffer, int offset, int count)
        {
            while (true)
            {
                long n = (long)SendTo(descriptor, ref buffer[offset], (UIntPtr)count, MSG_NOSIGNAL);
                if (n >= 0)
                    return (int)n;
                ThrowUnlessInterrupted(Marshal.GetLastWin32Error());
            }
        }

        /// <summary>
        /// Accepts the next client of a listening descriptor. Returns its descriptor, or -1 when the listener's
        /// SO_RCVTIMEO ran out with no client (accept again). <paramref name="address"/> (at least
        /// <see cref="AddressBufferSize"/> bytes) receives the client's sockaddr. Throws SocketException as
        /// Socket.Accept does, also when the listener was shut down to stop the server.
        /// </summary>
        internal static int Accept(int listener, byte[] address)
        {
            while (true)
            {
                int length = address.Length;
                int descriptor = Accept4(listener, ref address[0], ref length, SOCK_CLOEXEC);
                if (descriptor >= 0)
                    return descriptor;
                int errno = Marshal.GetLastWin32Error();
                if (errno == EAGAIN)
                    return -1;
                ThrowUnlessInterrupted(errno);
            }
        }

        /// <summary>
        /// The address (IPv4-mapped ones unmapped) and port in a sockaddr_in or sockaddr_in6 that <see cref="Accept"/>
        /// filled. <paramref name="last"/> remembers the previous client's address: when the new one has the same (a
        /// client connecting again and again, the common case under load), that IPAddress object is reused, so an
        /// accept allocates nothing for the address.
        /// </summary>
        internal static IPAddress ToAddress(byte[] address, AddressCache last, out int port)
        {
            int family = BitConverter.ToUInt16(address, 0);
            port = (address[2] << 8) | address[3];
            if (family == AF_INET)
                return last.Matches(address, 4, 4) ? last.Address : last.Remember(address, 4, 4, new IPAddress(BitConverter.ToUInt32(address, 4)));
            if (family == AF_INET6)
            {
                // The 16 address bytes and the 4 of the scope id, which follow them.
                if (last.Matches(address, 8, 20))
                    return last.Address;
                var bytes = new byte[16];
                Buffer.BlockCopy(address, 8, bytes, 0, 16);
                return last.Remember(address, 8, 20, Addressing.Unmap(new IPAddress(bytes, BitConverter.ToUInt32(address, 24))));
            }
            throw new SocketException((int)SocketError.AddressFamilyNotSupported);
        }

        /// <summary>The last address <see cref="ToAddress"/> made, with the sockaddr bytes it came from.</summary>
        internal sealed class AddressCache
        {
            private readonly byte[] _raw = new byte[AddressBufferSize];
            private int _offset, _count;
            private IPAddress _address;

            /// <summary>The address remembered; use it only after <see cref="Matches"/> said yes.</summary>
            internal IPAddress Address => _address;

            /// <summary>Whether the bytes at offset are those remembered (the family's place and length included).</summary>
            internal bool Matches(byte[] address, int offset, int count)
            {
                if (_address == null || _offset != offset || _count != count)
                    return false;
                for (int i = offset; i < offset + count; i++)
                    if (_raw[i] != address[i])
                        return false;
                return true;
            }

            internal IPAddress Remember(byte[] address, int offset, int count, IPAddress made)
            {
                Buffer.BlockCopy(address, offset, _raw, offset, count);
                _offset = offset;
                _count = count;
                _address = made;
                return made;
            }
        }

        /// <summary>
        /// Shuts a socket down in both directions; wakes a call blocked on it in another thread (recv, send, and on a
        /// listener, accept). Errors are ignored: a socket that is already reset has nothing blocked on it.
        /// </summary>
        internal static void Shutdown(int descriptor) => ShutdownNative(descriptor, SHUT_RDWR);

        /// <summary>Shuts the sending side of a socket down (a FIN after what was written); errors are ignored.</summary>
        internal static void ShutdownSend(int descriptor) => ShutdownNative(descriptor, SHUT_WR);

        /// <summary>
        /// Waits up to <paramref name="microseconds"/> (rounded up to whole milliseconds) until the socket has input,
        /// end of stream or an error to read. True when it has; false when the time ran out.
        /// </summary>
        internal static bool PollRead(int descriptor, int microseconds)
        {
            var entry = new PollEntry { Descriptor = descriptor, Events = POLLIN };
            int n = Poll(ref entry, (UIntPtr)1, (microseconds + 999) / 1000);
            if (n < 0 && Marshal.GetLastWin32Error() != EINTR)
                throw new SocketException((int)ToSocketError(Marshal.GetLastWin32Error()));
            return n > 0;
        }

        /// <summary>Sets SO_SNDTIMEO (send) or SO_RCVTIMEO of a descriptor, in milliseconds (0 = none).</summary>
        internal static void SetTimeout(int descriptor, bool send, int milliseconds)
        {
            var value = new TimeValue
            {
                Seconds = (IntPtr)(milliseconds / 1000),
                Microseconds = (IntPtr)(milliseconds % 1000 * 1000),
            };
            if (SetSockOpt(descriptor, SOL_SOCKET, send ? SO_SNDTIMEO : SO_RCVTIMEO, ref value, IntPtr.Size * 2) != 0)
                throw new SocketException((int)ToSocketError(Marshal.GetLastWin32Error()));
        }

        /// <summary>
        /// Sets SO_LINGER to {on, 0 s}: the next close resets the connection at once (RST), throwing away what is still
        /// queued either way, instead of a FIN. Errors are ignored (a connection already reset needs no reset).
        /// </summary>
        internal static void SetResetOnClose(int descriptor)
        {
            var value = new LingerValue { OnOff = 1, Seconds = 0 };
            SetSockOptLinger(descriptor, SOL_SOCKET, SO_LINGER, ref value, 8);
        }

        /// <summary>Closes a descriptor; only the thread that owns it may, once nothing else can use it.</summary>
        internal static void Close(int descriptor) => CloseNative(descriptor);

        private static void ThrowUnlessInterrupted(int errno)
        {
            if (errno == EINTR)
                return;
            throw new SocketException((int)ToSocketError(errno));
        }

        /// <summary>A Linux errno as the SocketError System.Net.Sockets gives for it (EAGAIN: a socket timeout ran out).</summary>
        internal static SocketError ToSocketError(int errno)
        {
            switch (errno)
            {
                case EAGAIN: return SocketError.TimedOut; // SO_RCVTIMEO / SO_SNDTIMEO ran out
                case ETIMEDOUT: return SocketError.TimedOut;
                case EPIPE: return SocketError.Shutdown;
                case ECONNRESET: return SocketError.ConnectionReset;
                case ECONNABORTED: return SocketError.ConnectionAborted;
                case EINVAL: return SocketError.InvalidArgument; // accept on a listener that was shut down
                case EMFILE: case ENFILE: return SocketError.TooManyOpenSockets;
                case ENOBUFS: case ENOMEM: return SocketError.NoBufferSpaceAvailable;
                default: return SocketError.SocketError;
            }
        }

        [DllImport("libc", EntryPoint = "accept4", SetLastError = true)]
        private static extern int Accept4(int descriptor, ref byte address, ref int addressLength, int flags);

        /// <summary>struct timeval as glibc lays it out on 64-bit Linux: two longs.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct TimeValue
        {
            public IntPtr Seconds;
            public IntPtr Microseconds;
        }

        [DllImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
        private static extern int SetSockOpt(int descriptor, int level, int name, ref TimeValue value, int length);

        /// <summary>struct linger: two ints.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct LingerValue
        {
            public int OnOff;
            public int Seconds;
        }

        [DllImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
        private static extern int SetSockOptLinger(int descriptor, int level, int name, ref LingerValue value, int length);

        /// <summary>struct pollfd.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct PollEntry
        {
            public int Descriptor;
            public short Events;
            public short ReturnedEvents;
        }

        [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
        private static extern int Poll(ref PollEntry entry, UIntPtr count, int timeoutMilliseconds);

        [DllImport("libc", EntryPoint = "shutdown", SetLastError = true)]
        private static extern int ShutdownNative(int descriptor, int how);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        private static extern int CloseNative(int descriptor);

        [DllImport("libc", EntryPoint = "recv", SetLastError = true)]
        internal static extern IntPtr Recv(int descriptor, ref byte buffer, UIntPtr length, int flags);

        [DllImport("libc", EntryPoint = "send", SetLastError = true)]
        internal static extern IntPtr SendTo(int descriptor, ref byte buffer, UIntPtr length, int flags);
    }
}
