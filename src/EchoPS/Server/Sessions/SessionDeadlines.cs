using System;
using EchoPS.Net;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// A session's deadlines as plain code over time (Stopwatch ticks), phase and the backlog: which limit has run out
    /// (idle, send, session, slot hold) and what socket timeout the next blocking call needs so that it wakes in time
    /// for the next one. No sockets and no clock of its own: the blocking loop passes "now" and applies the answer,
    /// and the unit tests drive every limit on virtual time. A timeout that fires before its deadline only wakes the
    /// loop, which asks again.
    /// </summary>
    internal sealed class SessionDeadlines
    {
        /// <summary>The answer "keep the socket timeout in place".</summary>
        internal const long Keep = -1;

        private readonly long _idle, _send, _session, _hold, _recheck, _holdSlack, _timeoutSlack;
        private readonly Func<int> _clientsWaiting;
        private long _started, _lastRead, _writeStarted, _nextHoldCheck;
        private long _receiveQuiet = long.MinValue, _sendQuiet = long.MinValue; // see ReceiveDue, SendDue

        /// <param name="options">The limits.</param>
        /// <param name="clientsWaiting">Clients waiting in the backlog now (the server's listener), asked only when a
        /// slot-hold check is due.</param>
        internal SessionDeadlines(EchoServerOptions options, Func<int> clientsWaiting)
        {
            _idle = Ticks(options.IdleTimeout);
            _send = Ticks(options.SendTimeout);
            _session = Ticks(options.MaxSessionDuration);
            _hold = Ticks(options.MaxSlotHold);
            _recheck = SocketTimeouts.Ticks(SessionRules.SlotHoldRecheck);
            _holdSlack = SocketTimeouts.Ticks(SessionRules.SlotHoldSlack);
            _timeoutSlack = SocketTimeouts.Ticks(SessionRules.TimeoutSlack);
            _clientsWaiting = clientsWaiting;
        }

        /// <summary>Whether any deadline needs the clock between reads (the slot-hold limit or the session cap).</summary>
        internal bool Timed => _hold > 0 || _session > 0;

        /// <summary>Whether the session cap is on (every blocking call is then bounded exactly by it).</summary>
        internal bool SessionLimited => _session > 0;

        /// <summary>Clients in the backlog when the slot-hold limit ended the session.</summary>
        internal int Waiting { get; private set; }

        /// <summary>When the session began (Stopwatch ticks).</summary>
        internal long Started => _started;

        /// <summary>When the write of the current chunk began.</summary>
        internal long WriteStarted => _writeStarted;

        /// <summary>A new session begins now.</summary>
        internal void Begin(long now)
        {
            _started = _lastRead = now;
            _writeStarted = 0;
            _nextHoldCheck = _hold > 0 ? now + _hold : long.MaxValue;
            _receiveQuiet = _sendQuiet = long.MinValue;
            Waiting = 0;
        }

        /// <summary>
        /// Whether <see cref="BeforeReceive"/> must be asked now. False only while its last answer ("no limit, keep the
        /// timeout in place") cannot have changed: no slot-hold check due, the idle timeout not near, the timeout in
        /// place still in time. Every quantity it depends on only moves later (the last read, the next hold check), so
        /// the loop skips the call on a field compare; a new timeout set makes it due again.
        /// </summary>
        internal bool ReceiveDue(long now) => now >= _receiveQuiet;

        /// <summary>Whether <see cref="BeforeSend"/> must be asked before the first send of a write (as <see cref="ReceiveDue"/>).</summary>
        internal bool SendDue(long now) => now >= _sendQuiet;

        /// <summary>A read returned data now: the idle timeout starts again.</summary>
        internal void Read(long now) => _lastRead = now;

        /// <summary>The write of a chunk begins now: the send timeout bounds all of it.</summary>
        internal void WriteBegins(long now) => _writeStarted = now;

        /// <summary>
        /// Before a receive: the limit that has run out, if any; else in <paramref name="timeout"/> the receive timeout
        /// the call needs (<see cref="Keep"/> when <paramref name="current"/>, the one in place, ends in time: it is
        /// changed only when it would overrun the idle timeout or the next slot-hold check by more than their slack,
        /// a few changes a session; exactly to the session's end when the session cap is on).
        /// </summary>
        internal DisconnectReason? BeforeReceive(long now, long current, out long timeout)
        {
            timeout = Keep;
            if (HoldOver(now))
                return DisconnectReason.SlotHoldLimit;
            long wait = long.MaxValue;
            if (_idle > 0)
            {
                wait = _lastRead + _idle - now;
                if (wait <= 0)
                    return DisconnectReason.IdleTimeout;
            }
            if (_session > 0)
            {
                var left = _started + _session - now;
                if (left <= 0)
                    return DisconnectReason.SessionLimit;
                timeout = Math.Min(wait, Math.Min(left, _nextHoldCheck - now));
                return null;
            }
            var holdLeft = _nextHoldCheck - now;
            if (current <= Math.Min(Plus(wait, _timeoutSlack), Plus(holdLeft, _holdSlack)))
            {
                // Kept: the same answer until the hold check is due, the idle timeout runs out, or the timeout in
                // place would overrun either (each moment only moves later as reads come and checks pass).
                // (Without the slot-hold limit or the session cap the loop never asks: the listener's timeout is the idle timeout.)
                var quiet = _hold == 0 ? long.MinValue : Math.Min(_nextHoldCheck, Less(Plus(_nextHoldCheck, _holdSlack), current));
                if (_idle > 0)
                    quiet = Math.Min(quiet, Math.Min(_lastRead + _idle, Less(_lastRead + _idle + _timeoutSlack, current)));
                _receiveQuiet = quiet;
                return null;
            }
            _receiveQuiet = long.MinValue;
            timeout = Math.Min(wait, Plus(holdLeft / 2, _holdSlack));
            return null;
        }

        /// <summary>
        /// Before a send of a write: the limit that has run out, if any; else the send timeout the call needs. The
        /// send timeout bounds the whole write (what is left of it after a partial send), never past the session's end;
        /// the slot-hold limit is checked in a blocked write too, the timeout waking it for the check (lazily, as for a
        /// receive, and never much shorter than needed, so a write is not woken over and over).
        /// </summary>
        internal DisconnectReason? BeforeSend(long now, bool partWritten, long current, out long timeout)
        {
            timeout = Keep;
            _sendQuiet = long.MinValue;
            long wait = long.MaxValue;
            if (_send > 0)
            {
                wait = partWritten ? _writeStarted + _send - now : _send;
                if (wait <= 0)
                    return DisconnectReason.SendTimeout;
            }
            if (_session > 0)
            {
                var left = _started + _session - now;
                if (left <= 0)
                    return DisconnectReason.SessionLimit;
                wait = Math.Min(wait, left);
            }
            if (_hold > 0)
            {
                if (HoldOver(now))
                    return DisconnectReason.SlotHoldLimit;
                var holdLeft = _nextHoldCheck - now;
                var target = Math.Min(wait, Plus(holdLeft / 2, _holdSlack));
                if (_session == 0 && current <= Math.Min(Plus(wait, _timeoutSlack), Plus(holdLeft, _holdSlack)) && current >= target / 2)
                {
                    // Kept: for a write's first send the same answer until the hold check is due or the timeout in
                    // place would overrun it (the target only shrinks meanwhile, so current >= target / 2 holds).
                    if (!partWritten)
                        _sendQuiet = Math.Min(_nextHoldCheck, Less(Plus(_nextHoldCheck, _holdSlack), current));
                    return null;
                }
                timeout = target;
                return null;
            }
            timeout = current == wait ? Keep : wait;
            if (timeout == Keep && !partWritten && _session == 0)
                _sendQuiet = long.MaxValue; // nothing here depends on the time
            return null;
        }

        /// <summary>Whether a timed-out blocking call that waited <paramref name="waited"/> under <paramref name="timeout"/> was only woken early (go on).</summary>
        internal bool WokenEarly(long waited, long timeout) => timeout != long.MaxValue && waited >= timeout - _timeoutSlack;

        // The slot-hold check, when due: the limit when clients wait, else the next check a recheck later.
        private bool HoldOver(long now)
        {
            if (now < _nextHoldCheck)
                return false;
            Waiting = _clientsWaiting();
            if (Waiting > 0)
                return true;
            _nextHoldCheck = now + _recheck;
            return false;
        }

        private static long Ticks(TimeSpan time) => time > TimeSpan.Zero ? SocketTimeouts.Ticks(time) : 0;

        private static long Plus(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

        // The last moment a timeout of `current` still ends by `deadline` (long.MinValue when none does).
        private static long Less(long deadline, long current) =>
            deadline == long.MaxValue ? long.MaxValue : current == long.MaxValue ? long.MinValue : deadline - current;
    }
}
