using System;
using System.Net.Sockets;
using EchoPS.Net;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// How a session's end is named, as plain functions of what the session saw (no sockets, no clock): which
    /// <see cref="DisconnectReason"/> a socket fault means, and the reason's words in the Disconnected event. Also
    /// the session's fixed times.
    /// </summary>
    internal static class SessionRules
    {
        /// <summary>Socket timeouts fire a little early or late; a deadline this close counts as reached.</summary>
        internal static readonly TimeSpan TimeoutSlack = TimeSpan.FromMilliseconds(50);

        /// <summary>
        /// How long a lingering close waits where it cannot tell what the client has (elsewhere than on Linux), and how
        /// long it goes on once the client has every byte but keeps sending; the shortest window without progress.
        /// See <see cref="LingerRule"/>: on Linux a linger lasts while the client reads.
        /// </summary>
        internal static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

        /// <summary>How often a lingering close looks again whether everything sent was acknowledged.</summary>
        internal static readonly TimeSpan LingerSlice = TimeSpan.FromMilliseconds(10);

        /// <summary>After the slot-hold limit, how often a client alone in the slot has the backlog looked at again.</summary>
        internal static readonly TimeSpan SlotHoldRecheck = TimeSpan.FromSeconds(1);

        /// <summary>How late a slot-hold check may come (the receive timeout is changed lazily, a few times a session).</summary>
        internal static readonly TimeSpan SlotHoldSlack = TimeSpan.FromSeconds(1);

        /// <summary>
        /// Why a session ended, from the socket fault that ended it: a stop (or a socket closed under the call) is
        /// ServerStopping; a timeout is the session cap when that was reached, the idle timeout in a receive, the send
        /// timeout when a write really waited it out, and otherwise a reset (.NET reports a reset that hits a blocking
        /// send as TimedOut, the syscall having said ECONNRESET); a reset or EPIPE is ClientReset; anything else Error.
        /// </summary>
        internal static DisconnectReason Classify(SocketFault fault, IoPhase phase, bool stopping, TimeSpan sessionElapsed,
            TimeSpan writeElapsed, EchoServerOptions options)
        {
            if (stopping || fault == SocketFault.Closed)
                return DisconnectReason.ServerStopping;
            switch (fault)
            {
                case SocketFault.TimedOut:
                    if (options.MaxSessionDuration > TimeSpan.Zero && sessionElapsed >= options.MaxSessionDuration - TimeoutSlack)
                        return DisconnectReason.SessionLimit;
                    if (phase == IoPhase.Receive)
                        return DisconnectReason.IdleTimeout;
                    if (options.SendTimeout > TimeSpan.Zero && writeElapsed >= options.SendTimeout - TimeoutSlack)
                        return DisconnectReason.SendTimeout;
                    return DisconnectReason.ClientReset;
                case SocketFault.Reset:
                    return DisconnectReason.ClientReset;
                default:
                    return DisconnectReason.Error;
            }
        }

        /// <summary>
        /// How a connection that ended for <paramref name="reason"/> is closed: plainly after the client's own close
        /// (nothing unread); aborted after a reset or an error (nobody to linger for); reset at once after the send
        /// timeout (the client has proven it does not read); with a lingering close after every other end the server
        /// chose, so a client that reads gets every byte counted as echoed.
        /// </summary>
        internal static CloseKind Closing(DisconnectReason reason)
        {
            switch (reason)
            {
                case DisconnectReason.ClientClosed: return CloseKind.Plain;
                case DisconnectReason.ClientReset:
                case DisconnectReason.Error: return CloseKind.Abort;
                case DisconnectReason.SendTimeout: return CloseKind.Reset;
                default: return CloseKind.Linger;
            }
        }

        /// <summary>
        /// The Disconnected event's message, with the echo a close took from a client that stopped reading during the
        /// lingering close (those bytes are not counted as echoed): "... ; 4096 bytes of echo not acknowledged by the client".
        /// </summary>
        internal static string WithLoss(string message, long lost)
        {
            if (lost <= 0)
                return message;
            var loss = $"{InvariantFormat.Number(lost)} bytes of echo not acknowledged by the client";
            return message == null ? loss : message + "; " + loss;
        }

        /// <summary>The Disconnected event's message for an Error: "NoBufferSpaceAvailable during send".</summary>
        internal static string DescribeError(SocketError error, IoPhase phase) =>
            $"{error} during {(phase == IoPhase.Receive ? "receive" : "send")}";

        /// <summary>The Disconnected event's message for a limit the server applied; null for other reasons.</summary>
        internal static string Describe(DisconnectReason reason, EchoServerOptions options, int waiting)
        {
            switch (reason)
            {
                case DisconnectReason.SlotHoldLimit:
                    return (options.Slots == 1 ? "held the only slot" : "held a slot")
                        + $" for {InvariantFormat.Seconds(options.MaxSlotHold)} while "
                        + (options.Slots == 1 ? "" : $"all {InvariantFormat.Number(options.Slots)} were busy and ")
                        + $"{InvariantFormat.Number(waiting)} " + (waiting == 1 ? "client waited" : "clients waited");
                case DisconnectReason.IdleTimeout: return $"sent nothing for {InvariantFormat.Seconds(options.IdleTimeout)}";
                case DisconnectReason.SendTimeout: return $"did not read its echo for {InvariantFormat.Seconds(options.SendTimeout)}";
                case DisconnectReason.ByteLimit: return $"reached the cap of {InvariantFormat.Number(options.MaxBytesPerConnection)} bytes";
                case DisconnectReason.SessionLimit: return $"reached the session cap of {InvariantFormat.Seconds(options.MaxSessionDuration)}";
                default: return null;
            }
        }
    }

    /// <summary>How a session closes its connection (see <see cref="SessionRules.Closing"/>).</summary>
    internal enum CloseKind { Plain, Abort, Reset, Linger }
}
