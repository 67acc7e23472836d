using System;
using System.Collections.Generic;
using System.Net;

namespace EchoPS.LockDown
{
    /// <summary>
    /// Admits at most N connections in any sliding 60-second window, per source address and overall. Exact (a log of
    /// admission times, at most N per source), and bounded: sources idle for a window are forgotten.
    /// </summary>
    /// <remarks>
    /// System.Threading.RateLimiting would need System.Memory and friends beside the module in Windows PowerShell 5.1;
    /// this class is small and single-threaded (only the accept loop calls it), so it is kept in-house.
    /// </remarks>
    public sealed class ConnectionRateLimiter
    {
        private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
        private readonly int _perSource;
        private readonly int _overall;
        private readonly Dictionary<IPAddress, Queue<DateTime>> _bySource = new Dictionary<IPAddress, Queue<DateTime>>();
        private readonly Queue<DateTime> _all = new Queue<DateTime>();
        private DateTime _lastSweep = DateTime.MinValue;

        /// <summary>Creates a limiter; 0 means no limit for that scope.</summary>
        public ConnectionRateLimiter(int perSourcePerMinute, int overallPerMinute)
        {
            _perSource = perSourcePerMinute;
            _overall = overallPerMinute;
        }

        /// <summary>Whether any limit is set.</summary>
        public bool IsActive => _perSource > 0 || _overall > 0;

        /// <summary>How many source addresses the limiter remembers now (for the unit tests of the sweep).</summary>
        internal int TrackedSources => _bySource.Count;

        /// <summary>
        /// Records a connection from <paramref name="source"/> at <paramref name="now"/> if it is within the limits.
        /// A refused connection is not recorded, so a client that keeps retrying is let in again once its window clears.
        /// </summary>
        /// <param name="source">The client's address.</param>
        /// <param name="now">The current UTC time.</param>
        /// <param name="refusal">Why it was refused, or null.</param>
        public bool TryAdmit(IPAddress source, DateTime now, out string refusal)
        {
            refusal = null;
            source = Addressing.Unmap(source);
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
                    refusal = $"more than {_perSource} connections in a minute from {source}";
                    return false;
                }
                log.Enqueue(now);
            }
            if (_overall > 0)
                _all.Enqueue(now);
            return true;
        }

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
