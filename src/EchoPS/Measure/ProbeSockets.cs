using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using EchoPS.Client;
using EchoPS.Net;

namespace EchoPS.Measure
{
    /// <summary>
    /// The sockets a probe has open: closing them all (on cancel, or at a probe's deadline) wakes every blocked or
    /// pending connect, send and receive. Also the probes' one place for connecting within a time and for naming a
    /// socket error as an echo status.
    /// </summary>
    internal sealed class ProbeSockets : SocketSet
    {
        /// <summary>A new TCP socket with TCP_NODELAY, tracked; throws OperationCanceledException once closed.</summary>
        internal Socket Open(AddressFamily family) => Open(family, noDelay: true) ?? throw new OperationCanceledException();

        /// <summary>
        /// Connects within the time given, without a timer or a thread: a non-blocking connect, one poll, then the
        /// socket goes back to blocking mode (so its sends and receives stay plain system calls).
        /// </summary>
        internal static void ConnectWithin(Socket socket, IPEndPoint endPoint, TimeSpan timeout)
        {
            socket.Blocking = false;
            try
            {
                socket.Connect(endPoint);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock || ex.SocketErrorCode == SocketError.InProgress)
            {
                int micro = (int)Math.Min(int.MaxValue, timeout.Ticks / 10);
                if (!socket.Poll(micro, SelectMode.SelectWrite))
                    throw new SocketException((int)SocketError.TimedOut);
                var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error);
                if (error != SocketError.Success)
                    throw new SocketException((int)error);
            }
            socket.Blocking = true;
        }

        /// <summary>Sends all of the bytes (a blocking send may write part of them).</summary>
        internal static void SendAll(Socket socket, byte[] bytes, int offset, int count)
        {
            int sent = 0;
            while (sent < count)
                sent += socket.Send(bytes, offset + sent, count - sent, SocketFlags.None);
        }

        /// <summary>Reads until count bytes are in, or end of stream; returns how many came.</summary>
        internal static int ReceiveUpTo(Socket socket, byte[] buffer, int count)
        {
            int received = 0;
            while (received < count)
            {
                int n = socket.Receive(buffer, received, count - received, SocketFlags.None);
                if (n == 0)
                    break;
                received += n;
            }
            return received;
        }

        /// <summary>
        /// After the whole echo: shuts down the sending side and reads to the end of stream, within the socket's
        /// receive timeout; returns how many bytes came after the echo (0 for an exact echo). The server's close is
        /// where an echo that appends bytes shows.
        /// </summary>
        internal static int ExtraBeforeEnd(Socket socket, byte[] buffer, int offset)
        {
            socket.Shutdown(SocketShutdown.Send);
            int extra = 0, n;
            while ((n = socket.Receive(buffer, offset, buffer.Length - offset, SocketFlags.None)) > 0)
            {
                extra += n;
                if (extra >= 1 << 20)
                    break; // enough to know
            }
            return extra;
        }

        /// <summary>
        /// Sends size bytes of the pattern from offset and reads the echo into readBack, asynchronously (the runtime's
        /// event loop, no thread waits). Returns the bytes that came back: fewer than size when the peer closed.
        /// </summary>
        internal static async System.Threading.Tasks.Task<int> EchoAsync(Socket socket, byte[] pattern, int offset, int size, byte[] readBack)
        {
            int sent = 0;
            while (sent < size)
                sent += await socket.SendAsync(new ArraySegment<byte>(pattern, offset + sent, size - sent), SocketFlags.None).ConfigureAwait(false);
            int received = 0;
            while (received < size)
            {
                int n = await socket.ReceiveAsync(new ArraySegment<byte>(readBack, received, size - received), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                    break;
                received += n;
            }
            return received;
        }

        /// <summary>A socket error (or a closed socket) as an echo status name.</summary>
        internal static string StatusOf(Exception ex) =>
            ex is ObjectDisposedException ? nameof(EchoRoundTripStatus.TimedOut) : EchoClient.Classify(ex).ToString();

        internal static bool SameBytes(byte[] expected, int expectedOffset, byte[] actual, int count)
        {
            for (int i = 0; i < count; i++)
                if (expected[expectedOffset + i] != actual[i])
                    return false;
            return true;
        }
    }
}
