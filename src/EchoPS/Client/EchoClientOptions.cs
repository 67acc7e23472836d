using System;
using System.Net.Sockets;
using EchoPS.Net;

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
        /// <summary>The default pause between round trips in continuous mode.</summary>
        public static readonly TimeSpan DefaultContinuousInterval = TimeSpan.FromSeconds(1);
        /// <summary>The base of the default deadline of a round-trip or concurrency run (the pauses asked for come on top).</summary>
        public static readonly TimeSpan DefaultRunDeadline = TimeSpan.FromSeconds(60);
        /// <summary>The default deadline of a throughput run bounded by bytes only.</summary>
        public static readonly TimeSpan DefaultStreamDeadline = TimeSpan.FromMinutes(5);
        /// <summary>Time a throughput run with a duration has, after it, for the echo still in flight.</summary>
        public static readonly TimeSpan DurationGrace = TimeSpan.FromSeconds(2);
        /// <summary>The longest deadline (a timer's limit: about 24 days).</summary>
        public static readonly TimeSpan MaxDeadline = TimeSpan.FromMilliseconds(int.MaxValue - 1);

        /// <summary>The TCP port of the echo server.</summary>
        public int Port { get; set; } = EchoDefaults.Port;

        /// <summary>Restricts the addresses tried to one family; null tries every address.</summary>
        public AddressFamily? Family { get; set; }

        /// <summary>What to measure.</summary>
        public EchoTestMode Mode { get; set; } = EchoTestMode.RoundTrip;

        /// <summary>Timed round trips (round-trip mode).</summary>
        public int Count { get; set; } = DefaultCount;

        /// <summary>
        /// Bytes per message, or per write in throughput mode; ignored when a payload is given. Null takes the mode's
        /// default: <see cref="DefaultChunkSize"/> in throughput mode, <see cref="DefaultSize"/> otherwise.
        /// </summary>
        public int? Size { get; set; }

        /// <summary>The exact bytes of every message; null sends pseudo-random bytes of <see cref="Size"/>.</summary>
        public byte[] Payload { get; set; }

        /// <summary>
        /// The pause between messages (round-trip and continuous modes). Null takes the mode's default:
        /// <see cref="DefaultContinuousInterval"/> in continuous mode, none otherwise.
        /// </summary>
        public TimeSpan? Interval { get; set; }

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

        /// <summary>
        /// The most a whole run may take, from name resolution to the close (in continuous mode, each round); a run
        /// that reaches it ends with status TimedOut and what was done by then. Null takes the mode's default
        /// (<see cref="EffectiveDeadline"/>).
        /// </summary>
        public TimeSpan? Deadline { get; set; }

        /// <summary>The size of one message: the payload's length when one is given, else the size or the mode's default.</summary>
        public int MessageSize => Payload?.Length ?? Size ?? (Mode == EchoTestMode.Throughput ? DefaultChunkSize : DefaultSize);

        /// <summary>The pause between messages: the one given, or the mode's default.</summary>
        public TimeSpan EffectiveInterval => Interval ?? (Mode == EchoTestMode.Continuous ? DefaultContinuousInterval : TimeSpan.Zero);

        /// <summary>
        /// The deadline given, or the mode's default: round trips 60 s plus the pauses asked for; throughput with a
        /// duration, that duration plus 2 s, else 5 minutes; concurrency 60 s plus one hold per client; continuous,
        /// twice the timeout per round (a reconnect and the round trip).
        /// </summary>
        public TimeSpan EffectiveDeadline
        {
            get
            {
                if (Deadline is TimeSpan given)
                    return given;
                TimeSpan automatic;
                switch (Mode)
                {
                    case EchoTestMode.Throughput:
                        automatic = Duration is TimeSpan d ? d + DurationGrace : DefaultStreamDeadline;
                        break;
                    case EchoTestMode.Concurrency:
                        automatic = DefaultRunDeadline + TimeSpan.FromTicks(Math.Min(Hold.Ticks, MaxDeadline.Ticks / MaxConcurrency) * Concurrency);
                        break;
                    case EchoTestMode.Continuous:
                        automatic = Timeout + Timeout;
                        break;
                    default:
                        automatic = DefaultRunDeadline + TimeSpan.FromTicks((long)Math.Min(EffectiveInterval.Ticks * (double)(Count - 1), MaxDeadline.Ticks));
                        break;
                }
                return automatic < MaxDeadline ? automatic : MaxDeadline;
            }
        }

        /// <summary>Whether a payload of this many bytes can be sent: 1 to <see cref="MaxSize"/>.</summary>
        internal static bool IsPayloadLength(int length) => length >= 1 && length <= MaxSize;

        /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
        public void Validate()
        {
            EchoDefaults.CheckConnectable(nameof(Port), Port);
            EchoDefaults.CheckRange(nameof(Count), Count, 1, MaxCount);
            if (Size != null)
                EchoDefaults.CheckRange(nameof(Size), Size.Value, 1, MaxSize);
            EchoDefaults.CheckRange(nameof(Concurrency), Concurrency, 1, MaxConcurrency);
            if (Payload != null && !IsPayloadLength(Payload.Length))
                throw new ArgumentException($"The payload has {Payload.Length} bytes: allowed is 1 to {MaxSize}.", nameof(Payload));
            if (Timeout <= TimeSpan.Zero)
                throw new ArgumentException($"Timeout {Timeout} must be positive.", nameof(Timeout));
            if (Interval < TimeSpan.Zero || Hold < TimeSpan.Zero)
                throw new ArgumentException("Interval and Hold cannot be negative.");
            if (Deadline <= TimeSpan.Zero || Deadline > MaxDeadline)
                throw new ArgumentOutOfRangeException(nameof(Deadline), Deadline, $"Deadline {Deadline} is out of range: allowed is more than 0 to {MaxDeadline}.");
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
