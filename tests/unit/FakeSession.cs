using System.Linq;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using EchoPS.Net;
using EchoPS.Server;
using EchoPS.Server.Sessions;

namespace EchoPS.Tests
{
    /// <summary>Virtual time for a session: only the fake connection and host move it, as blocking calls take time.</summary>
    internal sealed class VirtualClock : SessionClock
    {
        internal long T;
        internal int Reads;

        internal override long Now()
        {
            Reads++;
            return T;
        }

        internal static long S(double seconds) => SocketTimeouts.Ticks(TimeSpan.FromSeconds(seconds));

        internal static double Seconds(long ticks) => SocketTimeouts.Elapsed(0, ticks).TotalSeconds;
    }

    /// <summary>A client event: what it sends, when it closes or resets.</summary>
    internal sealed record ClientStep(double At, int Bytes = 0, bool Close = false, bool Reset = false);

    /// <summary>
    /// A connection on virtual time, for driving <see cref="EchoSession"/> without sockets. The client follows a script
    /// (sends, its close or reset) and reads its echo as told (from when, how fast, until when); the kernel's send
    /// buffer holds <see cref="Window"/> bytes the client has not read. A blocking call moves the clock to the moment
    /// it returns, or by its socket timeout and throws TimedOut, as the real calls do; a stop reaches the connection at
    /// <see cref="FakeHost.StopAt"/> as the server's wake-up does (both ways when the client has all its echo, else its
    /// sending side, both ways after the stop's grace).
    /// </summary>
    internal sealed class FakeConnection : ISessionConnection
    {
        private readonly VirtualClock _clock;
        private readonly List<ClientStep> _script;
        private int _next; // the next script step
        private long _arrived; // bytes the client sent that arrived and were not read yet
        private double _pending; // echo written that the client has not read
        private bool _shutSend, _shutBoth, _closed;
        private int _receiveMs, _sendMs;
        private long _forceAt = long.MaxValue;

        internal FakeConnection(VirtualClock clock, EchoServerOptions options, params ClientStep[] script)
        {
            _clock = clock;
            _script = script.OrderBy(s => s.At).ToList();
            _receiveMs = SocketTimeouts.Milliseconds(options.IdleTimeout);
            _sendMs = SocketTimeouts.Milliseconds(options.SendTimeout);
        }

        internal FakeHost Host;
        internal int Window = 64 * 1024;
        internal double ReadsFrom; // seconds
        internal double ReadsUntil = double.MaxValue; // seconds
        internal double ReadRate = double.PositiveInfinity; // bytes a second
        internal SocketError? FailSend;
        internal double? ForceEarly; // seconds after a stop when its forced wake comes, if before the stop's deadline

        internal readonly List<string> Calls = new List<string>();
        internal int TimeoutChanges;

        public IPAddress RemoteAddress { get; } = IPAddress.Loopback;
        public int RemotePort => 50000;
        public IPEndPoint RemoteEndPoint => new IPEndPoint(RemoteAddress, RemotePort);

        private double Now => VirtualClock.Seconds(_clock.T);

        private bool Reading(double at) => at >= ReadsFrom && at < ReadsUntil;

        // Moves the clock to `to`, the client reading its echo meanwhile, and the stop coming when it is due.
        private void AdvanceTo(long to)
        {
            if (Host != null && !Host.StopRequested && Host.StopAt <= to)
            {
                Drain(Host.StopAt);
                _clock.T = Math.Max(_clock.T, Host.StopAt);
                Host.Stop(_clock.T);
                // As ClientConnection.WakeForStop: the sending side first, then both ways when only the FIN is unacknowledged.
                _shutSend = true;
                if (Unacknowledged() <= 1)
                    _shutBoth = true;
                else
                    _forceAt = ForceEarly.HasValue ? _clock.T + VirtualClock.S(ForceEarly.Value) : Host.StopDeadline;
            }
            if (_forceAt <= to)
                _shutBoth = true;
            Drain(to);
            _clock.T = Math.Max(_clock.T, to);
        }

        private void Drain(long to)
        {
            double from = Math.Max(Now, ReadsFrom), until = Math.Min(VirtualClock.Seconds(to), ReadsUntil);
            if (until < from || _pending <= 0)
                return;
            _pending = double.IsPositiveInfinity(ReadRate) ? 0 : Math.Max(0, _pending - (until - from) * ReadRate);
        }

        // When the next thing happens that a blocked call waits for: a script step, the stop, its forced wake.
        private long NextEvent()
        {
            long next = _next < _script.Count ? VirtualClock.S(_script[_next].At) : long.MaxValue;
            if (Host != null && !Host.StopRequested)
                next = Math.Min(next, Host.StopAt);
            return Math.Min(next, _forceAt);
        }

        private static SocketException Fault(SocketError error) => new SocketException((int)error);

        // A blocking call that waits for an event, bounded by its timeout: false when the timeout ran out first.
        private bool WaitForEvent(int timeoutMs, Func<bool> ready)
        {
            long deadline = timeoutMs == 0 ? long.MaxValue : _clock.T + VirtualClock.S(timeoutMs / 1000.0);
            while (!ready())
            {
                var next = NextEvent();
                if (next >= deadline)
                {
                    if (deadline == long.MaxValue)
                        throw new InvalidOperationException($"the session blocks forever at {Now} s");
                    AdvanceTo(deadline);
                    return ready();
                }
                AdvanceTo(next);
                TakeStep();
            }
            return true;
        }

        private ClientStep _ended; // the close or reset that came

        private void TakeStep()
        {
            while (_next < _script.Count && VirtualClock.S(_script[_next].At) <= _clock.T)
            {
                var step = _script[_next++];
                if (step.Close || step.Reset)
                    _ended = step;
                else
                    _arrived += step.Bytes;
            }
        }

        public int Receive(byte[] buffer, int offset, int count)
        {
            Calls.Add("recv");
            TakeStep();
            if (!WaitForEvent(_receiveMs, () => _arrived > 0 || _ended != null || _shutBoth))
                throw Fault(SocketError.TimedOut);
            if (_arrived > 0)
            {
                var n = (int)Math.Min(count, _arrived);
                _arrived -= n;
                return n;
            }
            if (_ended != null && _ended.Reset)
                throw Fault(SocketError.ConnectionReset);
            return 0;
        }

        public int Send(byte[] buffer, int offset, int count)
        {
            Calls.Add("send");
            if (FailSend.HasValue)
                throw Fault(FailSend.Value);
            if (_shutSend || _shutBoth)
                throw Fault(SocketError.Shutdown);
            if (_ended != null && _ended.Reset)
                throw Fault(SocketError.ConnectionReset);
            if (_pending >= Window)
            {
                // Blocked until the client reads a quarter of the window, or the send timeout.
                var need = Window * 3 / 4.0;
                long wake = long.MaxValue;
                if (Reading(Now) && !double.IsPositiveInfinity(ReadRate))
                    wake = _clock.T + VirtualClock.S((_pending - need) / ReadRate);
                else if (ReadsFrom > Now && ReadsFrom < 1e9)
                    wake = VirtualClock.S(ReadsFrom);
                long deadline = _sendMs == 0 ? long.MaxValue : _clock.T + VirtualClock.S(_sendMs / 1000.0);
                long stop = NextEvent();
                if (stop < Math.Min(wake, deadline))
                {
                    AdvanceTo(stop);
                    TakeStep();
                    return Send(buffer, offset, count);
                }
                if (deadline <= wake)
                {
                    if (deadline == long.MaxValue)
                        throw new InvalidOperationException($"the session blocks forever at {Now} s");
                    AdvanceTo(deadline);
                    throw Fault(SocketError.TimedOut);
                }
                AdvanceTo(wake);
            }
            var n = (int)Math.Min(count, Window - Math.Ceiling(_pending));
            _pending += n;
            if (Reading(Now) && double.IsPositiveInfinity(ReadRate))
                _pending = 0;
            return n;
        }

        public void SetTimeout(SocketOptionName option, int milliseconds)
        {
            TimeoutChanges++;
            Calls.Add(option == SocketOptionName.SendTimeout ? "sndtimeo" : "rcvtimeo");
            if (option == SocketOptionName.SendTimeout)
                _sendMs = milliseconds;
            else
                _receiveMs = milliseconds;
        }

        public void ShutdownSend()
        {
            Calls.Add("shutdown-send");
            _shutSend = true;
        }

        public bool PollRead(int microseconds)
        {
            TakeStep();
            if (_arrived > 0 || _ended != null || _shutBoth)
                return true;
            long until = _clock.T + VirtualClock.S(microseconds / 1e6);
            var next = NextEvent();
            AdvanceTo(Math.Min(next, until));
            TakeStep();
            return _arrived > 0 || _ended != null || _shutBoth;
        }

        public int? Unacknowledged()
        {
            if (_closed)
                return null;
            Drain(_clock.T);
            var pending = (int)Math.Ceiling(_pending);
            // The FIN counts one until the client has read everything before it.
            return pending + (_shutSend && (pending > 0 || !Reading(Now)) ? 1 : 0);
        }

        public TimeSpan? SinceEstablished() => null;

        public bool WakeForStop() => throw new InvalidOperationException("the host's stop is simulated by the connection");

        public void ForceWake() => _shutBoth = true;

        public void Close()
        {
            Calls.Add("close");
            _closed = true;
        }

        public void Abort()
        {
            Calls.Add("abort");
            _closed = true;
        }

        public void Reset()
        {
            Calls.Add("reset");
            _closed = true;
        }

        /// <summary>How the connection was ended: close, abort, reset, or shutdown-send ... close (a lingering close).</summary>
        internal string Ending => Calls.Contains("shutdown-send") ? "linger" : Calls.LastOrDefault();
    }

    /// <summary>A session's host on virtual time: options, the backlog as a function of time, a stop at a given time.</summary>
    internal sealed class FakeHost : ISessionHost
    {
        private readonly VirtualClock _clock;

        internal FakeHost(VirtualClock clock, EchoServerOptions options)
        {
            _clock = clock;
            options.Validate();
            Options = options;
            Admission = new Admission(options);
        }

        public EchoServerOptions Options { get; }
        public Admission Admission { get; }
        public bool StopRequested { get; private set; }
        public long StopDeadline { get; private set; } = long.MaxValue;

        internal long StopAt = long.MaxValue;
        internal Func<double, int> Waiting = _ => 0;
        internal bool Attached, Detached;
        internal long Received, Echoed;
        internal readonly List<(EchoServerEventKind Kind, DisconnectReason? Reason, string Message, long Received, long Echoed, TimeSpan? Duration)> Events =
            new List<(EchoServerEventKind, DisconnectReason?, string, long, long, TimeSpan?)>();

        internal void Stop(long now)
        {
            StopRequested = true;
            StopDeadline = now + SocketTimeouts.Ticks(EchoServer.StopGrace);
        }

        public bool Attach(ISessionConnection client, int slot) => Attached = !StopRequested;
        public void Detach(ISessionConnection client, int slot) => Detached = true;

        public bool WaitForStop(TimeSpan time)
        {
            var until = _clock.T + SocketTimeouts.Ticks(time);
            if (StopAt <= until)
            {
                _clock.T = Math.Max(_clock.T, StopAt);
                Stop(_clock.T);
                return true;
            }
            _clock.T = until;
            return false;
        }

        public int ClientsWaiting(bool lingering) => Waiting(VirtualClock.Seconds(_clock.T));
        public void CountReceived(int bytes) => Received += bytes;
        public void CountEchoed(long bytes) => Echoed += bytes;

        public void Report(EchoServerEventKind kind, IPAddress address, int port, long received, long echoed,
            TimeSpan? duration, DisconnectReason? reason, string message) =>
            Events.Add((kind, reason, message, received, echoed, duration));
    }
}
