using System;
using System.Net;
using EchoPS.LockDown;

namespace EchoPS.Server.Sessions
{
    /// <summary>
    /// Who may be served: the allowlist, then the rate limits by arrival. One per server (the rate limiter's window is
    /// the server's); safe from several threads at once (the slots admit on their own): the allowlist is read-only,
    /// and the rate limiter is taken under a lock.
    /// </summary>
    internal sealed class Admission
    {
        private readonly EchoServerOptions _options;
        private readonly ConnectionRateLimiter _rateLimiter;

        internal Admission(EchoServerOptions options)
        {
            _options = options;
            _rateLimiter = new ConnectionRateLimiter(options.MaxConnectionsPerMinute, options.MaxTotalConnectionsPerMinute,
                options.RateLimitIPv6PrefixLength);
        }

        /// <summary>Whether any rule applies: with none, a client's address is not even looked at.</summary>
        internal bool IsActive => _options.AllowList.Count > 0 || _rateLimiter.IsActive;

        /// <summary>Null when the client may be served; else why not, with the reason.</summary>
        internal string Admit(ISessionConnection client, IPAddress address, out DisconnectReason reason)
        {
            reason = DisconnectReason.NotAllowed;
            if (!IsAllowed(address))
                return $"{address} is not in the allowlist";
            if (_rateLimiter.IsActive)
            {
                string refusal;
                bool admitted;
                var arrival = ArrivalTime(client);
                lock (_rateLimiter) // slots admit on their own threads; the limiter's window is one
                    admitted = _rateLimiter.TryAdmit(address, arrival, out refusal);
                if (!admitted)
                {
                    reason = DisconnectReason.RateLimited;
                    return refusal;
                }
            }
            return null;
        }

        private bool IsAllowed(IPAddress address)
        {
            if (_options.AllowList.Count == 0)
                return true;
            foreach (var range in _options.AllowList)
            {
                if (range.Contains(address))
                    return true;
            }
            return false;
        }

        /// <summary>
        /// When the client's connection was established, as far as the kernel tells: a queued client arrived before
        /// it was accepted, and a rate limit counts arrivals. The accept time where the kernel does not say.
        /// </summary>
        private static DateTime ArrivalTime(ISessionConnection client)
        {
            var now = DateTime.UtcNow;
            var since = client.SinceEstablished();
            return since.HasValue ? now - since.Value : now;
        }
    }
}
