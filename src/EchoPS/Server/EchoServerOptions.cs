using System;
using System.Collections.Generic;
using System.Net;
using EchoPS.LockDown;
using EchoPS.Net;

namespace EchoPS.Server
{
    /// <summary>How a blocking echo server binds and serves. Defaults are the safe ones.</summary>
    public sealed class EchoServerOptions
    {
        // Each setting with its default and its range beside it; Validate checks every range through EchoDefaults,
        // and the cmdlet's parameter attributes name the same constants.

        /// <summary>The address to bind: loopback unless told otherwise.</summary>
        public IPAddress Address { get; set; } = IPAddress.Loopback;

        /// <summary>The default port.</summary>
        public const int DefaultPort = EchoDefaults.Port;
        /// <summary>The port to bind; 0 asks the system for a free one.</summary>
        public int Port { get; set; } = DefaultPort;

        /// <summary>The default listen backlog.</summary>
        public const int DefaultBacklog = 128;
        /// <summary>The largest listen backlog accepted (the kernel clamps it further to somaxconn).</summary>
        public const int MaxBacklog = 65535;
        /// <summary>How many not-yet-accepted clients the kernel queues.</summary>
        public int Backlog { get; set; } = DefaultBacklog;

        /// <summary>The default size of the echo buffer (one per session).</summary>
        public const int DefaultBufferSize = 64 * 1024;
        /// <summary>The smallest echo buffer: one byte would work, but it only measures syscall overhead.</summary>
        public const int MinBufferSize = 256;
        /// <summary>The largest echo buffer: beyond this the socket buffers, not ours, limit a read.</summary>
        public const int MaxBufferSize = 16 * 1024 * 1024;
        /// <summary>The size of the buffer every read and write of a session goes through.</summary>
        public int BufferSize { get; set; } = DefaultBufferSize;

        /// <summary>The default number of slots: one, the blocking single-client baseline.</summary>
        public const int DefaultSlots = 1;
        /// <summary>The most slots (sessions served at once, each on its own thread with its own buffer).</summary>
        public const int MaxSlots = 64;
        /// <summary>
        /// How many clients are served at once: each slot is a thread running the same blocking accept, read, write
        /// loop on the one listener, with its own buffer; the rest wait in the backlog. 1 is the baseline.
        /// </summary>
        public int Slots { get; set; } = DefaultSlots;

        /// <summary>Sets TCP_NODELAY on accepted sockets, so small echoes are not held back by Nagle's algorithm.</summary>
        public bool NoDelay { get; set; } = true;

        /// <summary>Clients allowed to connect; empty allows every address. Others are rejected before any echo.</summary>
        public IReadOnlyList<AddressRange> AllowList { get; set; } = Array.Empty<AddressRange>();

        /// <summary>The longest timeout a socket accepts here, in seconds (socket timeouts are whole milliseconds in an int).</summary>
        public const int MaxTimeoutSeconds = 86400;
        /// <summary>The longest timeout a socket accepts here: one day.</summary>
        public static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(MaxTimeoutSeconds);

        /// <summary>The default idle timeout: a silent client cannot hold the only slot for longer.</summary>
        public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);
        /// <summary>How long a client may send nothing before it is cut off; zero never cuts it off.</summary>
        public TimeSpan IdleTimeout { get; set; } = DefaultIdleTimeout;

        /// <summary>The default send timeout: a client that stops reading its echo is cut off after this.</summary>
        public static readonly TimeSpan DefaultSendTimeout = TimeSpan.FromSeconds(10);
        /// <summary>How long one write of the echo may block on a client that does not read; zero waits forever.</summary>
        public TimeSpan SendTimeout { get; set; } = DefaultSendTimeout;

        /// <summary>Bytes one connection may send before it is cut off (after they are echoed); 0 is unlimited.</summary>
        public long MaxBytesPerConnection { get; set; }

        /// <summary>How long one connection may last; zero is unlimited.</summary>
        public TimeSpan MaxSessionDuration { get; set; }

        /// <summary>The default slot-hold limit: one client may keep the only slot this long while others wait.</summary>
        public static readonly TimeSpan DefaultMaxSlotHold = TimeSpan.FromSeconds(60);
        /// <summary>
        /// How long one client may keep the only slot while other clients wait in the backlog; zero never cuts it off.
        /// Checked in every phase of a session, a blocked write included: a client alone is never cut off by it.
        /// </summary>
        public TimeSpan MaxSlotHold { get; set; } = DefaultMaxSlotHold;

        /// <summary>Connections admitted per source in any 60 seconds (by arrival); 0 is unlimited.</summary>
        public int MaxConnectionsPerMinute { get; set; }

        /// <summary>Connections admitted from all sources together in any 60 seconds; 0 is unlimited.</summary>
        public int MaxTotalConnectionsPerMinute { get; set; }

        /// <summary>The default prefix length that groups IPv6 sources for the per-source rate limit (a /64 is one site).</summary>
        public const int DefaultRateLimitIPv6PrefixLength = 64;
        /// <summary>IPv6 sources that share this many leading bits count as one source for the per-source limit (0 to 128).</summary>
        public int RateLimitIPv6PrefixLength { get; set; } = DefaultRateLimitIPv6PrefixLength;

        /// <summary>The echo rate of one connection, in bytes per second; 0 is unlimited.</summary>
        public long MaxBytesPerSecond { get; set; }

        /// <summary>The default event rate limit: client events per second shown one by one before they are folded.</summary>
        public const int DefaultEventRateLimit = 100;
        /// <summary>The largest event rate limit accepted (0 turns folding off: every event, however many).</summary>
        public const int MaxEventRateLimit = 1000000;
        /// <summary>
        /// Client events (Connected, Disconnected, Rejected) per second passed on one by one; above it, they are
        /// folded into one Summary event per second. 0 passes every event.
        /// </summary>
        public int EventRateLimit { get; set; } = DefaultEventRateLimit;

        /// <summary>
        /// The most events held for a reader at once (a foreground server's queue to its console, a job's unreceived
        /// events); beyond it events are dropped and counted. The final Stopped event is always kept.
        /// </summary>
        public const int MaxHeldEvents = 10000;

        /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
        public void Validate()
        {
            if (Address == null)
                throw new ArgumentException("Address must be an IP address.", nameof(Address));
            EchoDefaults.CheckRange(nameof(Port), Port, IPEndPoint.MinPort, IPEndPoint.MaxPort);
            EchoDefaults.CheckRange(nameof(Backlog), Backlog, 1, MaxBacklog);
            EchoDefaults.CheckRange(nameof(Slots), Slots, 1, MaxSlots);
            EchoDefaults.CheckRange(nameof(BufferSize), BufferSize, MinBufferSize, MaxBufferSize);
            EchoDefaults.CheckTimeout(nameof(IdleTimeout), IdleTimeout, MaxTimeout);
            EchoDefaults.CheckTimeout(nameof(SendTimeout), SendTimeout, MaxTimeout);
            EchoDefaults.CheckTimeout(nameof(MaxSessionDuration), MaxSessionDuration, MaxTimeout);
            EchoDefaults.CheckTimeout(nameof(MaxSlotHold), MaxSlotHold, MaxTimeout);
            EchoDefaults.CheckRange(nameof(RateLimitIPv6PrefixLength), RateLimitIPv6PrefixLength, 0, 128);
            EchoDefaults.CheckRange(nameof(MaxBytesPerConnection), MaxBytesPerConnection, 0, long.MaxValue);
            EchoDefaults.CheckRange(nameof(MaxConnectionsPerMinute), MaxConnectionsPerMinute, 0, int.MaxValue);
            EchoDefaults.CheckRange(nameof(MaxTotalConnectionsPerMinute), MaxTotalConnectionsPerMinute, 0, int.MaxValue);
            EchoDefaults.CheckRange(nameof(MaxBytesPerSecond), MaxBytesPerSecond, 0, long.MaxValue);
            EchoDefaults.CheckRange(nameof(EventRateLimit), EventRateLimit, 0, MaxEventRateLimit);
            if (AllowList == null)
                throw new ArgumentException("AllowList must be a list (empty allows every address).", nameof(AllowList));
        }

        /// <summary>
        /// The whole start-up summary in one line, for the Listening event (joined by ", ") and -Verbose (by "; "):
        /// the socket settings, the lock-down settings and how events are passed on.
        /// </summary>
        public string DescribeSettings(string separator) =>
            string.Join(separator, DescribeSocket(), DescribeLimits(), DescribeEventRate());

        /// <summary>The socket settings in one line: "backlog 128, buffer 65536 bytes, TCP_NODELAY on".</summary>
        public string DescribeSocket() =>
            (Slots > 1 ? $"{InvariantFormat.Number(Slots)} slots, " : "") +
            $"backlog {InvariantFormat.Number(Backlog)}, buffer {InvariantFormat.Number(BufferSize)} bytes{(Slots > 1 ? " each" : "")}, TCP_NODELAY {(NoDelay ? "on" : "off")}";

        /// <summary>
        /// A one-line summary of the lock-down settings, for the Listening event and -Verbose; invariant, so that it
        /// reads the same under every culture ("0.5 s", never "0,5 s").
        /// </summary>
        public string DescribeLimits()
        {
            var parts = new List<string>
            {
                AllowList.Count == 0 ? "allow any address" : "allow " + string.Join(", ", AllowList),
                "idle timeout " + InvariantFormat.SecondsOrNone(IdleTimeout),
                "send timeout " + InvariantFormat.SecondsOrNone(SendTimeout),
            };
            if (MaxBytesPerConnection > 0) parts.Add($"max {InvariantFormat.Number(MaxBytesPerConnection)} bytes per connection");
            if (MaxSessionDuration > TimeSpan.Zero) parts.Add("max session " + InvariantFormat.SecondsOrNone(MaxSessionDuration));
            parts.Add(MaxSlotHold > TimeSpan.Zero ? "max slot hold " + InvariantFormat.SecondsOrNone(MaxSlotHold) + " while others wait" : "slot hold unlimited");
            if (MaxConnectionsPerMinute > 0)
                parts.Add($"max {InvariantFormat.Number(MaxConnectionsPerMinute)} connections/min per source" +
                    (RateLimitIPv6PrefixLength < 128 ? $" (IPv6 per /{InvariantFormat.Number(RateLimitIPv6PrefixLength)})" : ""));
            if (MaxTotalConnectionsPerMinute > 0) parts.Add($"max {InvariantFormat.Number(MaxTotalConnectionsPerMinute)} connections/min overall");
            if (MaxBytesPerSecond > 0) parts.Add($"max {InvariantFormat.Number(MaxBytesPerSecond)} bytes/s per connection");
            return string.Join(", ", parts);
        }

        /// <summary>How client events are passed on, for the Listening event: "events folded above 100/s".</summary>
        public string DescribeEventRate() =>
            EventRateLimit == 0 ? "every event shown" : $"client events above {InvariantFormat.Number(EventRateLimit)}/s folded into summaries";


        /// <summary>The shared range check (<see cref="EchoDefaults.CheckRange"/>), under the name the measurer's options call.</summary>
        internal static void CheckRange(string name, long value, long min, long max) => EchoDefaults.CheckRange(name, value, min, max);
    }
}
