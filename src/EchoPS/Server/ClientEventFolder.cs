using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;

namespace EchoPS.Server
{
    /// <summary>
    /// Keeps a server's events cheap and few under a flood of connections. Client events (Connected, Disconnected,
    /// Rejected) pass one by one up to a rate limit per second; above it they are folded into one Summary event per
    /// second: counts by kind and reason, bytes, and the busiest sources. Other events always pass, after any summary
    /// still pending, so that a reader sees the summary before Stopped. Every event is counted somewhere: passed, or
    /// in a summary.
    /// </summary>
    internal sealed class ClientEventFolder : IDisposable
    {
        // Sources tallied by address within one summary; beyond this many, they count together as "others".
        private const int MaxSources = 256;
        private const int BusiestShown = 3;
        private static readonly long Window = Stopwatch.Frequency; // one second

        private readonly object _gate = new object();
        private readonly Action<EchoServerEvent> _sink;
        private readonly int _limit;
        private readonly int _serverId;
        private readonly string _local;
        private readonly Timer _timer;
        private readonly long[] _reasons = new long[Enum.GetValues(typeof(DisconnectReason)).Length];
        private readonly Dictionary<IPAddress, long> _sources = new Dictionary<IPAddress, long>();
        private long _windowStart;
        private int _passed;
        private long _pending;
        private long _firstFolded;
        private long _connected, _disconnected, _rejected, _received, _echoed, _otherSources;
        private bool _closed;

        /// <param name="serverId">The server's id, for the summary events.</param>
        /// <param name="local">The server's bound endpoint, as text.</param>
        /// <param name="limit">Client events per second passed one by one; 0 passes every event.</param>
        /// <param name="sink">Where events go; called under a lock, so it must not block (it never did).</param>
        public ClientEventFolder(int serverId, string local, int limit, Action<EchoServerEvent> sink)
        {
            _serverId = serverId;
            _local = local;
            _limit = limit;
            _sink = sink;
            _windowStart = Stopwatch.GetTimestamp() - Window; // the first event opens a window
            if (limit > 0)
                _timer = new Timer(_ => Flush(), null, Timeout.Infinite, Timeout.Infinite);
        }

        /// <summary>Passes an event other than a client event on, after any summary still pending.</summary>
        public void Post(EchoServerEvent e)
        {
            if (_limit == 0)
            {
                lock (_gate)
                    _sink(e);
                return;
            }
            lock (_gate)
            {
                if (_closed)
                    return;
                EmitSummary();
                _sink(e);
                if (e.Kind == EchoServerEventKind.Stopped)
                    _closed = true;
            }
        }

        /// <summary>
        /// Passes a client event (Connected, Disconnected, Rejected) on, or folds it into the next summary. The event
        /// object is built only when the event is passed on: a folded event allocates nothing.
        /// </summary>
        public void Post(EchoServerEventKind kind, IPAddress address, int port, long received = 0, long echoed = 0,
            TimeSpan? duration = null, DisconnectReason? reason = null, string message = null)
        {
            if (_limit == 0)
            {
                var e = EchoServerEvent.Client(_serverId, _local, kind, new IPEndPoint(address, port), received, echoed, duration, reason, message);
                lock (_gate) // sessions on several slots report at once; the sink sees one event at a time
                    _sink(e);
                return;
            }
            lock (_gate)
            {
                if (_closed)
                    return;
                long now = Stopwatch.GetTimestamp();
                if (now - _windowStart >= Window)
                {
                    EmitSummary();
                    _windowStart = now;
                    _passed = 0;
                }
                if (_passed < _limit)
                {
                    _passed++;
                    _sink(EchoServerEvent.Client(_serverId, _local, kind, new IPEndPoint(address, port), received, echoed, duration, reason, message));
                    return;
                }
                Fold(kind, address, received, echoed, reason, now);
            }
        }

        /// <inheritdoc />
        public void Dispose() => _timer?.Dispose();

        private void Fold(EchoServerEventKind kind, IPAddress address, long received, long echoed, DisconnectReason? reason, long now)
        {
            if (_pending++ == 0)
            {
                _firstFolded = now;
                // The summary comes when this window ends, whether or not another event arrives by then.
                long dueMs = (_windowStart + Window - now) * 1000 / Stopwatch.Frequency + 1;
                _timer.Change(Math.Max(1, dueMs), Timeout.Infinite);
            }
            switch (kind)
            {
                case EchoServerEventKind.Connected:
                    _connected++;
                    break;
                case EchoServerEventKind.Disconnected:
                    _disconnected++;
                    _received += received;
                    _echoed += echoed;
                    break;
                default:
                    _rejected++;
                    break;
            }
            if (reason.HasValue)
                _reasons[(int)reason.Value]++;
            // A connection's Connected and Disconnected count once as a source: its Connected, or a Rejected.
            if (kind == EchoServerEventKind.Disconnected || address == null)
                return;
            if (_sources.TryGetValue(address, out var count))
                _sources[address] = count + 1;
            else if (_sources.Count < MaxSources)
                _sources[address] = 1;
            else
                _otherSources++;
        }

        private void Flush()
        {
            try
            {
                lock (_gate)
                {
                    if (!_closed)
                        EmitSummary();
                }
            }
            catch
            {
                // On a timer thread an exception would end the host process; a failing reader must not.
            }
        }

        private void EmitSummary()
        {
            if (_pending == 0)
                return;
            var span = TimeSpan.FromSeconds((Stopwatch.GetTimestamp() - _firstFolded) / (double)Stopwatch.Frequency);
            var busiest = DescribeSources();
            _sink(EchoServerEvent.Summary(_serverId, _local, _connected, _disconnected, _rejected, _received, _echoed,
                span, busiest, DescribeCounts(busiest)));
            _pending = _connected = _disconnected = _rejected = _received = _echoed = _otherSources = 0;
            Array.Clear(_reasons, 0, _reasons.Length);
            _sources.Clear();
        }

        private string DescribeCounts(string busiest)
        {
            var text = new StringBuilder();
            text.Append(Count(_pending)).Append(" events folded (above ").Append(Count(_limit)).Append("/s): ");
            AppendKind(text, _connected, "connected", null);
            AppendKind(text, _disconnected, "disconnected", IsEndReason);
            AppendKind(text, _rejected, "rejected", r => !IsEndReason(r));
            text.Length -= 2;
            if (busiest != null)
                text.Append("; busiest ").Append(busiest);
            return text.ToString();
        }

        private static bool IsEndReason(DisconnectReason reason) =>
            reason != DisconnectReason.NotAllowed && reason != DisconnectReason.RateLimited;

        private void AppendKind(StringBuilder text, long count, string kind, Func<DisconnectReason, bool> reasons)
        {
            if (count == 0)
                return;
            text.Append(Count(count)).Append(' ').Append(kind);
            if (reasons != null)
            {
                var parts = Enumerable.Range(0, _reasons.Length)
                    .Where(i => _reasons[i] > 0 && reasons((DisconnectReason)i))
                    .Select(i => $"{(DisconnectReason)i} {Count(_reasons[i])}");
                text.Append(" (").Append(string.Join(", ", parts)).Append(')');
            }
            text.Append(", ");
        }

        private string DescribeSources()
        {
            if (_sources.Count == 0)
                return null;
            var parts = _sources.OrderByDescending(s => s.Value).Take(BusiestShown).Select(s => $"{s.Key} ({Count(s.Value)})").ToList();
            if (_sources.Count > BusiestShown || _otherSources > 0)
            {
                long others = _sources.OrderByDescending(s => s.Value).Skip(BusiestShown).Sum(s => s.Value) + _otherSources;
                parts.Add($"others ({Count(others)})");
            }
            return string.Join(", ", parts);
        }

        private static string Count(long value) => Net.InvariantFormat.Count(value);
    }
}
