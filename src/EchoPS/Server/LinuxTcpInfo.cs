using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EchoPS.Server
{
    /// <summary>
    /// What the Linux kernel knows about a TCP socket and .NET does not expose: a listener's accept-queue length, how
    /// long ago an accepted connection was established, and how many bytes of ours the peer has not acknowledged yet.
    /// Each query answers null on other systems or on error, and callers fall back to what works everywhere.
    /// </summary>
    /// <remarks>
    /// Checked on this kernel: for a listening socket TCP_INFO's tcpi_unacked is the number of connections waiting to
    /// be accepted (tcpi_sacked the backlog); for a connection accepted before the server sent anything,
    /// tcpi_last_data_sent is the time since the handshake (the SYN-ACK), which data the client sends while queued
    /// does not move. SIOCOUTQ counts bytes (and a FIN) written but not yet acknowledged.
    /// </remarks>
    internal static class LinuxTcpInfo
    {
        private const int IPPROTO_TCP = 6, TCP_INFO = 11;
        private const ulong SIOCOUTQ = 0x5411;
        private const int InfoSize = 104, UnackedOffset = 24, LastDataSentOffset = 44;

        /// <summary>Connections that completed their handshake and wait for accept on <paramref name="listener"/>.</summary>
        internal static int? QueuedConnections(Socket listener) => ReadInfo(Descriptor(listener), UnackedOffset);

        /// <summary>How long ago a connection was established, read right after accept (before the server sends).</summary>
        internal static TimeSpan? SinceEstablished(int accepted)
        {
            var ms = ReadInfo(accepted, LastDataSentOffset);
            return ms.HasValue ? TimeSpan.FromMilliseconds((uint)ms.Value) : (TimeSpan?)null;
        }

        /// <summary>Bytes written to <paramref name="descriptor"/> that its peer has not acknowledged, a FIN counting one.</summary>
        internal static int? Unacknowledged(int descriptor)
        {
            if (!LinuxSocketCalls.Available || descriptor < 0)
                return null;
            return IoctlInt(descriptor, SIOCOUTQ, out var value) == 0 ? value : (int?)null;
        }

        // A Socket's descriptor on Linux; -1 for a disposed socket or elsewhere.
        private static int Descriptor(Socket socket)
        {
            if (!LinuxSocketCalls.Available)
                return -1;
            try
            {
                return (int)socket.Handle;
            }
            catch (ObjectDisposedException)
            {
                return -1;
            }
        }

        private static int? ReadInfo(int descriptor, int offset)
        {
            if (!LinuxSocketCalls.Available || descriptor < 0)
                return null;
            var info = new byte[InfoSize];
            uint length = InfoSize;
            if (GetSockOpt(descriptor, IPPROTO_TCP, TCP_INFO, info, ref length) != 0 || length < offset + 4)
                return null;
            return BitConverter.ToInt32(info, offset);
        }

        [DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
        private static extern int GetSockOpt(int descriptor, int level, int name, byte[] value, ref uint length);

        [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
        private static extern int IoctlInt(int descriptor, ulong request, out int value);
    }
}
