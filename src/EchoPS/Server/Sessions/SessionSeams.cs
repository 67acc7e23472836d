using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// A connection as a session (and a stop) uses it: blocking receive and send under socket timeouts, shutdowns,
    /// the three closes, and what the kernel says of it. <see cref="ClientConnection"/> is the real one (a descriptor
    /// or a Socket); the unit tests drive <see cref="EchoSession"/> with a fake one on virtual time. Timeouts and
    /// faults are reported as the socket calls report them: a <see cref="SocketException"/>.
    /// </summary>
    internal interface ISessionConnection
    {
        /// <summary>The client's address, IPv4-mapped ones unmapped.</summary>
        IPAddress RemoteAddress { get; }

        /// <summary>The client's port.</summary>
        int RemotePort { get; }

        /// <summary>The client's endpoint, made when asked for; from any thread.</summary>
        IPEndPoint RemoteEndPoint { get; }

        /// <summary>Reads up to <paramref name="count"/> bytes, blocking up to the receive timeout; 0 at end of stream.</summary>
        int Receive(byte[] buffer, int offset, int count);

        /// <summary>Writes up to <paramref name="count"/> bytes, blocking up to the send timeout; says how many went.</summary>
        int Send(byte[] buffer, int offset, int count);

        /// <summary>Sets SO_RCVTIMEO or SO_SNDTIMEO, in milliseconds (0 = none).</summary>
        void SetTimeout(SocketOptionName option, int milliseconds);

        /// <summary>Shuts the sending side down (a FIN after what was written); never throws.</summary>
        void ShutdownSend();

        /// <summary>Waits up to <paramref name="microseconds"/> for input, end of stream or an error to read.</summary>
        bool PollRead(int microseconds);

        /// <summary>Bytes written that the peer has not acknowledged, a FIN counting one; null where unknown.</summary>
        int? Unacknowledged();

        /// <summary>How long ago the connection was established; null where unknown.</summary>
        TimeSpan? SinceEstablished();

        /// <summary>A stop reaching the connection from any thread (see <see cref="ClientConnection.WakeForStop"/>).</summary>
        bool WakeForStop();

        /// <summary>Wakes a blocked receive or send at once, from any thread.</summary>
        void ForceWake();

        /// <summary>Closes it (nothing unread, or after a lingering close).</summary>
        void Close();

        /// <summary>Shuts it down both ways, then closes it (refused, reset, failed).</summary>
        void Abort();

        /// <summary>Resets it at once (SO_LINGER 0, then close): the client does not read.</summary>
        void Reset();
    }

    /// <summary>
    /// What a session needs of its server: the options, admission, taking a connection live and off, the stop's state,
    /// the backlog, counters and events. <see cref="EchoServer"/> is the host of every model; the unit tests use a fake.
    /// </summary>
    internal interface ISessionHost
    {
        EchoServerOptions Options { get; }

        Admission Admission { get; }

        /// <summary>Takes a connection live for <paramref name="slot"/>; false when stopping (the session closes it).</summary>
        bool Attach(ISessionConnection client, int slot);

        /// <summary>Takes it off: no other thread reaches it from now on.</summary>
        void Detach(ISessionConnection client, int slot);

        /// <summary>Whether a stop was requested.</summary>
        bool StopRequested { get; }

        /// <summary>When a stop gives up on echo in flight, on the session clock; long.MaxValue before a stop.</summary>
        long StopDeadline { get; }

        /// <summary>Waits <paramref name="time"/> (a throttle's pause); true when a stop came first.</summary>
        bool WaitForStop(TimeSpan time);

        /// <summary>Clients waiting for a slot (see <see cref="EchoServer.ClientsWaiting"/>).</summary>
        int ClientsWaiting(bool lingering);

        void CountReceived(int bytes);

        void CountEchoed(long bytes);

        /// <summary>A client event: Connected, Disconnected, Rejected.</summary>
        void Report(EchoServerEventKind kind, IPAddress address, int port, long received, long echoed,
            TimeSpan? duration, DisconnectReason? reason, string message);
    }

    /// <summary>
    /// A session's clock in Stopwatch ticks: <see cref="System"/> in a server; virtual time in the unit tests, where a
    /// fake connection moves it forward as a blocking call would take time.
    /// </summary>
    internal abstract class SessionClock
    {
        /// <summary>The machine's monotonic clock (Stopwatch).</summary>
        internal static readonly SessionClock System = new SystemClock();

        /// <summary>Now, in Stopwatch ticks.</summary>
        internal abstract long Now();

        private sealed class SystemClock : SessionClock
        {
            internal override long Now() => Stopwatch.GetTimestamp();
        }
    }
}
