using System;
using EchoPS.Net;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// When a lingering close is over, as plain code over time (Stopwatch ticks), the client's unacknowledged bytes and
    /// whether it is quiet: no sockets and no clock of its own, so it is tested on virtual time. The linger lasts while
    /// the client is still reading its echo (the bytes it has not acknowledged go down), however long the reading
    /// takes, bounded by the send timeout without progress and by the idle timeout in all; it is not a fixed time.
    /// </summary>
    internal sealed class LingerRule
    {
        private readonly long _start;
        private readonly long _progressWindow;
        private readonly long _settle;
        private readonly long _limit;
        private long _lastProgress;
        private int _lastUnacknowledged = int.MaxValue;
        private long _acknowledgedSince = -1;

        /// <param name="options">The server's options: the send timeout bounds a linger without progress, the idle
        /// timeout a whole linger (neither below <see cref="SessionRules.LingerTimeout"/>).</param>
        /// <param name="start">When the linger began (the sending side was shut down).</param>
        internal LingerRule(EchoServerOptions options, long start)
        {
            _start = _lastProgress = start;
            var window = options.SendTimeout > TimeSpan.Zero ? options.SendTimeout
                : options.IdleTimeout > TimeSpan.Zero ? options.IdleTimeout : SessionRules.LingerTimeout;
            _progressWindow = SocketTimeouts.Ticks(Max(window, SessionRules.LingerTimeout));
            _settle = SocketTimeouts.Ticks(SessionRules.LingerTimeout);
            _limit = options.IdleTimeout > TimeSpan.Zero ? SocketTimeouts.Ticks(Max(options.IdleTimeout, SessionRules.LingerTimeout)) : long.MaxValue;
        }

        /// <summary>
        /// Whether the linger is over now (the caller then closes): when stopping, at the stop's deadline or once the
        /// client has every byte and the FIN; at the idle timeout in all; with nothing unacknowledged, when the client
        /// is quiet or has gone on sending for <see cref="SessionRules.LingerTimeout"/> more (it has all its echo);
        /// with echo unacknowledged, when none of it was acknowledged for the send timeout (the client stopped
        /// reading). Where the system does not tell what is unacknowledged, after <see cref="SessionRules.LingerTimeout"/>.
        /// </summary>
        /// <param name="now">Now, in Stopwatch ticks.</param>
        /// <param name="unacknowledged">Bytes written and not acknowledged, the FIN counting one; null where unknown.</param>
        /// <param name="quiet">Whether the client sent nothing in the last look.</param>
        /// <param name="stopping">Whether the server is stopping.</param>
        /// <param name="stopDeadline">When a stop gives up waiting for echo in flight (long.MaxValue before a stop).</param>
        internal bool IsOver(long now, int? unacknowledged, bool quiet, bool stopping, long stopDeadline)
        {
            if (stopping && (now >= stopDeadline || unacknowledged == 0))
                return true;
            if (now - _start >= _limit)
                return true;
            if (!unacknowledged.HasValue)
                return now - _start >= _settle;
            if (unacknowledged.Value == 0)
            {
                if (quiet)
                    return true;
                if (_acknowledgedSince < 0)
                    _acknowledgedSince = now;
                return now - _acknowledgedSince >= _settle;
            }
            _acknowledgedSince = -1;
            if (unacknowledged.Value < _lastUnacknowledged)
            {
                _lastUnacknowledged = unacknowledged.Value;
                _lastProgress = now; // the client read some of its echo
            }
            return now - _lastProgress >= _progressWindow;
        }

        /// <summary>
        /// Whether the linger may give way to a client waiting in the backlog (the slot-hold limit): after the first
        /// <see cref="SessionRules.LingerTimeout"/>, so a linger always lasts as long as it did before it could be longer.
        /// </summary>
        internal bool MayYield(long now) => now - _start >= _settle;

        /// <summary>
        /// Echo bytes the client had not acknowledged when the linger ended, from what the system says is unacknowledged
        /// after the FIN was queued (the FIN counts one): what a close then takes from the client.
        /// </summary>
        internal static long Lost(int? unacknowledged) => unacknowledged.HasValue && unacknowledged.Value > 1 ? unacknowledged.Value - 1 : 0;

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    }
}
