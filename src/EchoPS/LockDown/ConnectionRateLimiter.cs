using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;

namespace EchoPS.LockDown
{
    /// <summary>
    /// Admits at most N connections that arrived in any sliding 60-second window, per source and overall. A source is
    /// an IPv4 address, or an IPv6 network of a given prefix length (a /64 by default: one site usually holds a whole
    /// /64, so counting per IPv6 address would not limit it). Exact (a log of arrival times, at most N per source), and
    /// bounded: sources with no arrival in a window are forgotten.
    /// </summary>
    /// <remarks>
    /// Times are arrival times, not admission times: a single-client server accepts a queued client long after it
    /// arrived, and a flood that waited in the backlog must be counted when it came, not let in a few at a time as the
    /// window moves on. Arrivals are taken in the order given; one earlier than an arrival already seen counts as that
    /// one (a later time only ever counts against the source).
    /// </remarks>
    /// <remarks>
    /// System.Threading.RateLimiting would need System.Memory and friends beside the module in Windows PowerShell 5.1;
    /// this class is small and single-threaded (only the accept loop calls it), so it is kept in-house.
    /// </remarks>
    public sealed class ConnectionRateLimiter
    {
        private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
        private readonly int _perSource;
        private readonly int _overall;
        private readonly int _ipv6PrefixLength;
        private readonly Dictionary<IPAddress, Queue<DateTime>> _bySource = new Dictionary<IPAddress, Queue<DateTime>>();
        private readonly Queue<DateTime> _all = new Queue<DateTime>();
        private DateTime _lastSweep = DateTime.MinValue;
        private DateTime _latest = DateTime.MinValue;

        /// <summary>Creates a limiter; 0 means no limit for that scope.</summary>
        /// <param name="perSourcePerMinute">Connections per source in any minute; 0 for no limit.</param>
        /// <param name="overallPerMinute">Connections from all sources together in any minute; 0 for no limit.</param>
        /// <param name="ipv6PrefixLength">IPv6 sources sharing this many leading bits are one source (0 to 128).</param>
        public ConnectionRateLimiter(int perSourcePerMinute, int overallPerMinute, int ipv6PrefixLength = 64)
        {
            if (ipv6PrefixLength < 0 || ipv6PrefixLength > 128)
                throw new ArgumentOutOfRangeException(nameof(ipv6PrefixLength), ipv6PrefixLength,
                    $"IPv6 prefix length {ipv6PrefixLength} is out of range: allowed is 0 to 128.");
            _perSource = perSourcePerMinute;
            _overall = overallPerMinute;
            _ipv6PrefixLength = ipv6PrefixLength;
        }

        /// <summary>Whether any limit is set.</summary>
        public bool IsActive => _perSource > 0 || _overall > 0;

        /// <summary>How many source addresses the limiter remembers now (for the unit tests of the sweep).</summary>
        internal int TrackedSources => _bySource.Count;

        /// <summary>
        /// Records a connection from <paramref name="source"/> that arrived at <paramref name="arrival"/> if it is within
        /// the limits. A refused connection is not recorded, so a client that keeps retrying is let in again once its
        /// window clears.
        /// </summary>
        /// <param name="source">The client's address.</param>
        /// <param name="arrival">When the connection arrived (UTC): for a queued client, before it was accepted.</param>
        /// <param name="refusal">Why it was refused, or null.</param>
        public bool TryAdmit(IPAddress source, DateTime arrival, out string refusal)
        {
            refusal = null;
            source = SourceOf(source);
            if (arrival < _latest)
                arrival = _latest;
            _latest = arrival;
            var now = arrival;
            Sweep(now);
            Expire(_all, now);
            if (_overall > 0 && _all.Count >= _overall)
            {
                refusal = $"more than {_overall} connections in a minute from all sources";
                return false;
            }
            Queue<DateTime> log = null;
            if (_perSource > 0)
            {
                if (!_bySource.TryGetValue(source, out log))
                    _bySource[source] = log = new Queue<DateTime>();
                Expire(log, now);
                if (log.Count >= _perSource)
                {
                    refusal = $"more than {_perSource} connections in a minute from {Describe(source)}";
                    return false;
                }
                log.Enqueue(now);
            }
            if (_overall > 0)
                _all.Enqueue(now);
            return true;
        }

        /// <summary>The source a client counts as: its IPv4 address, or its IPv6 address cut to the prefix length.</summary>
        internal IPAddress SourceOf(IPAddress address)
        {
            address = Addressing.Unmap(address);
            if (address.AddressFamily != AddressFamily.InterNetworkV6 || _ipv6PrefixLength == 128)
                return address;
            var bytes = address.GetAddressBytes();
            for (int bit = _ipv6PrefixLength; bit < 128; bit++)
                bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            return new IPAddress(bytes);
        }

        private string Describe(IPAddress source) =>
            source.AddressFamily == AddressFamily.InterNetworkV6 && _ipv6PrefixLength < 128 ? $"{source}/{_ipv6PrefixLength}" : source.ToString();

        private void Sweep(DateTime now)
        {
            // Forget sources with nothing in their window, at most once a window, so memory follows active sources only.
            if (now - _lastSweep < Window)
                return;
            _lastSweep = now;
            var idle = new List<IPAddress>();
            foreach (var pair in _bySource)
            {
                Expire(pair.Value, now);
                if (pair.Value.Count == 0)
                    idle.Add(pair.Key);
            }
            foreach (var source in idle)
                _bySource.Remove(source);
        }

        private static void Expire(Queue<DateTime> log, DateTime now)
        {
            while (log.Count > 0 && now - log.Peek() >= Window)
                log.Dequeue();
        }
    }
}
