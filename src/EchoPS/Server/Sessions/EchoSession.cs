using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EchoPS.LockDown;
using EchoPS.Net;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// One client connection's whole life, on the thread that runs it: admit (allowlist, rate limits), take it live
    /// (a stop reaches it), echo with its caps, throttle and deadlines, classify how it ended, close it (lingering
    /// where the server chose the end, so no echo is lost to a reset), report Connected and Disconnected. A session
    /// owns its buffer and is reused for the next connection: the blocking server has one per slot; a model serving
    /// a client per thread would have one per client in progress. It sees only the seam (<see cref="ISessionConnection"/>,
    /// <see cref="ISessionHost"/>, <see cref="SessionClock"/>): its server is the host (options, stop state, counters,
    /// events), and the unit tests drive it over a fake connection on virtual time.
    /// </summary>
    internal sealed class EchoSession
    {
        private readonly ISessionHost _server;
        private readonly int _slot; // which of the server's slots runs this session
        private readonly EchoServerOptions _options;
        private readonly SessionClock _clock;
        private readonly byte[] _buffer;
        private readonly SessionTimeout _receive;
        private readonly SessionTimeout _send;

        // The connection in progress.
        private readonly SessionDeadlines _deadlines;
        private long _started;
        private IoPhase _phase;
        private long _received;
        private long _echoed;
        private long _lost; // echo the client never acknowledged, taken off the counts at the close
        private long _nextLingerHoldCheck;

        internal EchoSession(EchoServer server, int slot)
            : this(server, slot, SessionClock.System)
        {
        }

        /// <summary>A session of <paramref name="server"/>'s slot <paramref name="slot"/> on <paramref name="clock"/> (the unit tests' virtual time).</summary>
        internal EchoSession(ISessionHost server, int slot, SessionClock clock)
        {
            _server = server;
            _slot = slot;
            _options = server.Options;
            _clock = clock;
            _buffer = new byte[_options.BufferSize];
            _receive = new SessionTimeout(SocketTimeouts.Milliseconds(_options.IdleTimeout));
            _send = new SessionTimeout(SocketTimeouts.Milliseconds(_options.SendTimeout));
            _deadlines = new SessionDeadlines(_options, () => server.ClientsWaiting(false));
        }

        /// <summary>Serves one accepted client from admission to close; never throws a socket error.</summary>
        internal void Run(ISessionConnection client)
        {
            var address = client.RemoteAddress;
            int port = client.RemotePort;
            if (!Admit(client, address, port))
                return;
            if (!_server.Attach(client, _slot))
            {
                client.Close(); // stopping
                return;
            }
            _server.Report(EchoServerEventKind.Connected, address, port, 0, 0, null, null, null);

            _started = _clock.Now();
            _deadlines.Begin(_started);
            _phase = IoPhase.Receive;
            _received = _echoed = 0;
            _lost = _nextLingerHoldCheck = 0;
            _receive.Reset();
            _send.Reset();
            var reason = DisconnectReason.Error;
            string message = null;
            try
            {
                reason = Echo(client);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                var now = _clock.Now();
                reason = SessionRules.Classify(SocketErrors.Classify(ex), _phase, _server.StopRequested,
                    SocketTimeouts.Elapsed(_started, now), SocketTimeouts.Elapsed(_deadlines.WriteStarted, now), _options);
                if (reason == DisconnectReason.Error)
                    message = SessionRules.DescribeError(((SocketException)ex).SocketErrorCode, _phase);
            }
            finally
            {
                _server.Detach(client, _slot);
                // After the client's own close nothing is left unread, and a plain close is one syscall less per
                // connection. After a reset there is nobody to linger for. A client cut off by the send timeout has
                // proven it does not read: lingering for it would only read and discard what it still sends, so it
                // is reset at once. Every other end the server chose lingers, so the client reads every byte counted
                // as echoed, then end of stream.
                switch (SessionRules.Closing(reason))
                {
                    case CloseKind.Plain: client.Close(); break;
                    case CloseKind.Abort: client.Abort(); break;
                    case CloseKind.Reset: client.Reset(); break;
                    default: CloseLingering(client); break;
                }
            }

            _server.Report(EchoServerEventKind.Disconnected, address, port, _received, _echoed,
                SocketTimeouts.Elapsed(_started, _clock.Now()), reason,
                SessionRules.WithLoss(message ?? SessionRules.Describe(reason, _options, _deadlines.Waiting), _lost));
        }

        /// <summary>Applies the allowlist and the rate limits; a refused client is closed before any echo.</summary>
        private bool Admit(ISessionConnection client, IPAddress address, int port)
        {
            var admission = _server.Admission;
            if (!admission.IsActive)
                return true;
            var refusal = admission.Admit(client, address, out var reason);
            if (refusal == null)
                return true;
            client.Abort();
            _server.Report(EchoServerEventKind.Rejected, address, port, 0, 0, null, reason, refusal);
            return false;
        }

        /// <summary>
        /// The blocking loop itself: read a chunk, write all of it back, until end of stream or a limit. The
        /// default path (no caps, no throttle) is one receive and one send per chunk; the slot-hold limit adds two
        /// clock reads per chunk (before a receive, and after it: the moment the write begins too) and asks
        /// <see cref="SessionDeadlines"/> only when its last answer may have changed (<see cref="SessionDeadlines.ReceiveDue"/>,
        /// <see cref="SessionDeadlines.SendDue"/>), a few socket-timeout changes per session. What the deadlines are and
        /// which limit ran out is <see cref="SessionDeadlines"/>'s decision; this loop only applies it.
        /// </summary>
        private DisconnectReason Echo(ISessionConnection client)
        {
            var cap = _options.MaxBytesPerConnection;
            var timed = _deadlines.Timed;
            var throttle = _options.MaxBytesPerSecond > 0 ? new ByteRateThrottle(_options.MaxBytesPerSecond, ThrottleTime(_clock.Now())) : null;
            int chunk = throttle == null ? _buffer.Length : Math.Min(_buffer.Length, throttle.MaxChunk);
            long now = 0;
            while (true)
            {
                int want = cap > 0 ? (int)Math.Min(chunk, cap - _received) : chunk;
                _phase = IoPhase.Receive;
                int read;
                if (timed)
                {
                    now = _clock.Now();
                    if (_deadlines.ReceiveDue(now))
                    {
                        var limit = _deadlines.BeforeReceive(now, _receive.Current, out var timeout);
                        if (limit.HasValue)
                            return limit.Value;
                        if (timeout != SessionDeadlines.Keep)
                            _receive.Set(client, SocketOptionName.ReceiveTimeout, timeout);
                    }
                    try
                    {
                        read = client.Receive(_buffer, 0, want);
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut && _receive.Shortened)
                    {
                        continue; // woken early for the slot-hold check or the session cap: the deadlines decide
                    }
                    now = _clock.Now();
                    _deadlines.Read(now);
                }
                else
                {
                    read = client.Receive(_buffer, 0, want);
                }
                if (read == 0)
                    return _server.StopRequested ? DisconnectReason.ServerStopping : DisconnectReason.ClientClosed;
                _received += read;
                _server.CountReceived(read);

                if (throttle != null && _server.WaitForStop(throttle.Take(read, ThrottleTime(_clock.Now()))))
                    return DisconnectReason.ServerStopping;

                _phase = IoPhase.Send;
                if (!timed || throttle != null)
                    now = _clock.Now(); // else the read's return is the write's start
                _deadlines.WriteBegins(now);
                int sent = 0;
                bool first = true;
                while (sent < read)
                {
                    if (!first)
                        now = _clock.Now(); // after a partial send or an early wake
                    first = false;
                    if (sent > 0 || _send.Shortened || (timed && _deadlines.SendDue(now)))
                    {
                        var limit = _deadlines.BeforeSend(now, sent > 0, _send.Current, out var timeout);
                        if (limit.HasValue)
                            return limit.Value;
                        if (timeout != SessionDeadlines.Keep)
                            _send.Set(client, SocketOptionName.SendTimeout, timeout);
                    }
                    // Send may write less than asked: finish the chunk before reading more.
                    int n;
                    try
                    {
                        n = client.Send(_buffer, sent, read - sent);
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut && _send.Shortened &&
                        _deadlines.WokenEarly(_clock.Now() - now, _send.Current))
                    {
                        continue; // woken early for the slot-hold check: the write goes on, its deadlines unchanged
                    }
                    sent += n;
                    _echoed += n;
                    _server.CountEchoed(n);
                }

                if (cap > 0 && _received >= cap)
                    return DisconnectReason.ByteLimit;
            }
        }

        // The throttle's time, from the session clock (a DateTime whose origin does not matter: only differences count).
        private static DateTime ThrottleTime(long now) => new DateTime(SocketTimeouts.Elapsed(0, now).Ticks, DateTimeKind.Utc);

        /// <summary>
        /// Ends a connection the server cut off without throwing away echo still in flight. Closing a socket with
        /// unread input makes the kernel send a reset, and a reset discards whatever of the echo the client had not
        /// yet received. So: stop echoing, shut down the sending side (a FIN after the last echoed byte), read and
        /// discard the client's further input until it closes too, resets, or <see cref="LingerRule"/> says the
        /// linger is over (the client has everything, stopped reading, or a stop's grace ran out); then close. Echo
        /// the client never acknowledged is taken off the counts, so the event never claims echo the client did not get.
        /// </summary>
        private void CloseLingering(ISessionConnection client)
        {
            var rule = new LingerRule(_options, _clock.Now());
            int? unacknowledged = null;
            try
            {
                client.ShutdownSend();
                var quiet = false;
                while (true)
                {
                    var now = _clock.Now();
                    unacknowledged = client.Unacknowledged();
                    if (rule.IsOver(now, unacknowledged, quiet, _server.StopRequested, _server.StopDeadline) || (rule.MayYield(now) && SlotHoldOver(now)))
                        break;
                    unacknowledged = null;
                    quiet = !client.PollRead((int)(SessionRules.LingerSlice.Ticks / 10));
                    if (!quiet && client.Receive(_buffer, 0, _buffer.Length) <= 0)
                    {
                        // End of stream (a reset throws). The client's: nothing more can arrive, and the close loses
                        // nothing. During a stop it can be the stop's own shutdown of the receiving side instead,
                        // with echo still in flight that the close's reset throws away: counted as not acknowledged.
                        if (_server.StopRequested)
                            unacknowledged = client.Unacknowledged();
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                // Reset or force-closed by a stop: nothing left to wait for.
                unacknowledged = null;
            }
            var lost = LingerRule.Lost(unacknowledged);
            if (lost > 0)
            {
                _echoed -= lost;
                _server.CountEchoed(-lost);
                _lost = lost;
            }
            client.Close();
        }

        /// <summary>
        /// Whether the slot-hold limit ends a linger: the session has held the slot that long and another client waits
        /// (the backlog looked at no more than once a <see cref="SessionRules.SlotHoldRecheck"/>).
        /// </summary>
        private bool SlotHoldOver(long now)
        {
            if (_options.MaxSlotHold <= TimeSpan.Zero || now < _started + SocketTimeouts.Ticks(_options.MaxSlotHold) || now < _nextLingerHoldCheck)
                return false;
            _nextLingerHoldCheck = now + SocketTimeouts.Ticks(SessionRules.SlotHoldRecheck);
            return _server.ClientsWaiting(lingering: true) > 0;
        }
    }

    /// <summary>What a session was doing when a socket call failed.</summary>
    internal enum IoPhase { Receive, Send }

    /// <summary>A socket timeout as last set on a connection, so that it is changed only when it must be.</summary>
    internal sealed class SessionTimeout
    {
        private readonly int _configuredMs;
        private int _currentMs;

        /// <param name="configuredMs">The timeout every connection starts with (the listener's, copied by the kernel).</param>
        internal SessionTimeout(int configuredMs)
        {
            _configuredMs = _currentMs = configuredMs;
        }

        /// <summary>The timeout in place, in Stopwatch ticks; long.MaxValue for none.</summary>
        internal long Current => _currentMs == 0 ? long.MaxValue : _currentMs * Stopwatch.Frequency / 1000;

        /// <summary>Whether the timeout in place is not the configured one.</summary>
        internal bool Shortened => _currentMs != _configuredMs;

        /// <summary>A new connection starts with the configured timeout.</summary>
        internal void Reset() => _currentMs = _configuredMs;

        /// <summary>Sets the timeout to <paramref name="ticks"/> (long.MaxValue for none), in whole ms rounded up.</summary>
        internal void Set(ISessionConnection client, SocketOptionName option, long ticks)
        {
            int ms = SocketTimeouts.Milliseconds(ticks);
            if (ms == _currentMs)
                return;
            client.SetTimeout(option, ms);
            _currentMs = ms;
        }
    }
}
