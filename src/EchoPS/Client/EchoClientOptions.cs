using System;
using System.Net.Sockets;
using EchoPS.Server;

namespace EchoPS.Client
{
    /// <summary>What an echo client measures and how; defaults are those of Test-EchoRoundTrip.</summary>
    public sealed class EchoClientOptions
    {
        /// <summary>The default message size in bytes.</summary>
        public const int DefaultSize = 32;
        /// <summary>The default size of each write in throughput mode.</summary>
        public const int DefaultChunkSize = 64 * 1024;
        /// <summary>The largest message or write accepted.</summary>
        public const int MaxSize = 16 * 1024 * 1024;
        /// <summary>The default number of timed round trips.</summary>
        public const int DefaultCount = 4;
        /// <summary>The most timed round trips in one run (their times are kept for the percentiles).</summary>
        public const int MaxCount = 10_000_000;
        /// <summary>The most clients in concurrency mode.</summary>
        public const int MaxConcurrency = 256;
        /// <summary>The default time each client holds its connection in concurrency mode.</summary>
        public const int DefaultHoldMs = 300;
        /// <summary>The default bound on a connect and on every read.</summary>
        public const double DefaultTimeoutSec = 5;

        /// <summary>The TCP port of the echo server.</summary>
        public int Port { get; set; } = EchoServerOptions.DefaultPort;

        /// <summary>Restricts the addresses tried to one family; null tries every address.</summary>
        public AddressFamily? Family { get; set; }

        /// <summary>What to measure.</summary>
        public EchoTestMode Mode { get; set; } = EchoTestMode.RoundTrip;

        /// <summary>Timed round trips (round-trip mode).</summary>
        public int Count { get; set; } = DefaultCount;

        /// <summary>Bytes per message, or per write in throughput mode; ignored when a payload is given.</summary>
        public int Size { get; set; } = DefaultSize;

        /// <summary>The exact bytes of every message; null sends pseudo-random bytes of <see cref="Size"/>.</summary>
        public byte[] Payload { get; set; }

        /// <summary>The pause between messages (round-trip and continuous modes).</summary>
        public TimeSpan Interval { get; set; } = TimeSpan.Zero;

        /// <summary>Bytes to stream in throughput mode (with or without a duration; the first limit reached ends it).</summary>
        public long? TotalBytes { get; set; }

        /// <summary>How long to stream in throughput mode.</summary>
        public TimeSpan? Duration { get; set; }

        /// <summary>Clients connecting at once (concurrency mode).</summary>
        public int Concurrency { get; set; } = 1;

        /// <summary>How long each client keeps its connection after its echo (concurrency mode).</summary>
        public TimeSpan Hold { get; set; } = TimeSpan.FromMilliseconds(DefaultHoldMs);

        /// <summary>Shuts down the sending side after the last message and expects every byte back, then end of stream.</summary>
        public bool HalfClose { get; set; }

        /// <summary>Sets TCP_NODELAY, so small messages are not held back by Nagle's algorithm.</summary>
        public bool NoDelay { get; set; } = true;

        /// <summary>Bounds name resolution, each connect and every read.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(DefaultTimeoutSec);

        /// <summary>The size of one message: the payload's length when one is given.</summary>
        public int MessageSize => Payload?.Length ?? Size;

        /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
        public void Validate()
        {
            EchoServerOptions.CheckRange(nameof(Port), Port, 1, 65535);
            EchoServerOptions.CheckRange(nameof(Count), Count, 1, MaxCount);
            EchoServerOptions.CheckRange(nameof(Size), Size, 1, MaxSize);
            EchoServerOptions.CheckRange(nameof(Concurrency), Concurrency, 1, MaxConcurrency);
            if (Payload != null && (Payload.Length == 0 || Payload.Length > MaxSize))
                throw new ArgumentException($"The payload has {Payload.Length} bytes: allowed is 1 to {MaxSize}.", nameof(Payload));
            if (Timeout <= TimeSpan.Zero)
                throw new ArgumentException($"Timeout {Timeout} must be positive.", nameof(Timeout));
            if (Interval < TimeSpan.Zero || Hold < TimeSpan.Zero)
                throw new ArgumentException("Interval and Hold cannot be negative.");
            if (Mode == EchoTestMode.Throughput && TotalBytes == null && Duration == null)
                throw new ArgumentException("Throughput mode needs TotalBytes, Duration or both.");
            if (TotalBytes <= 0 || Duration <= TimeSpan.Zero)
                throw new ArgumentException("TotalBytes and Duration must be positive.");
        }
    }

    /// <summary>What a run of the echo client measures.</summary>
    public enum EchoTestMode
    {
        /// <summary>Timed round trips of one message each on one connection.</summary>
        RoundTrip,
        /// <summary>One round trip per interval until stopped, one result each, reconnecting after a failure.</summary>
        Continuous,
        /// <summary>A stream written and read back at the same time, verified, in MiB/s.</summary>
        Throughput,
        /// <summary>Several clients at once; each one's wait from connect to its first echoed byte.</summary>
        Concurrency,
    }
}
