using System;

namespace EchoPS.Client
{
    /// <summary>How a run of the echo client ended.</summary>
    public enum EchoRoundTripStatus
    {
        /// <summary>Every byte came back intact, in time.</summary>
        Success,
        /// <summary>The name did not resolve, or has no address of the family asked for.</summary>
        Unresolved,
        /// <summary>Nothing listens on the port: the connection was refused.</summary>
        Refused,
        /// <summary>No network route to the address.</summary>
        Unreachable,
        /// <summary>The connect, or a read with nothing at all coming back, took longer than the timeout; or the run reached its deadline.</summary>
        TimedOut,
        /// <summary>Part of a message came back, then nothing more within the timeout: the tail was lost.</summary>
        Incomplete,
        /// <summary>Some bytes came back different from what was sent, or more bytes came back than were sent.</summary>
        Mismatch,
        /// <summary>The server closed the connection before echoing everything.</summary>
        ClosedEarly,
        /// <summary>The connection was reset.</summary>
        Reset,
        /// <summary>Any other socket error; the message names it.</summary>
        Failed,
    }

    /// <summary>
    /// One run of the echo client: where it went, whether every byte came back intact, and how long it took.
    /// Endpoints are text and times are milliseconds, so results serialize flat (ConvertTo-Json, Export-Csv).
    /// </summary>
    public sealed class EchoRoundTripResult
    {
        /// <summary>When the run started (local time; a DateTime, which serializes exactly, as EchoServerEvent.Timestamp).</summary>
        public DateTime Timestamp { get; internal set; }

        /// <summary>The host name or address as given.</summary>
        public string TargetName { get; internal set; }

        /// <summary>The address connected to (or the last one tried); empty when the name did not resolve.</summary>
        public string Address { get; internal set; }

        /// <summary>The server's port.</summary>
        public int Port { get; internal set; }

        /// <summary>What was measured.</summary>
        public EchoTestMode Mode { get; internal set; }

        /// <summary>The result's number in a continuous run (1, 2, ...); 0 otherwise.</summary>
        public long Sequence { get; internal set; }

        /// <summary>True when the status is Success.</summary>
        public bool Success => Status == EchoRoundTripStatus.Success;

        /// <summary>How the run ended.</summary>
        public EchoRoundTripStatus Status { get; internal set; }

        /// <summary>A short summary, or what went wrong: sizes and endpoints only, never payload.</summary>
        public string Message { get; internal set; }

        /// <summary>Bytes per message (per write in throughput mode).</summary>
        public int Size { get; internal set; }

        /// <summary>Timed round trips completed (the warm-up is not counted); in concurrency mode, the clients that succeeded.</summary>
        public int RoundTrips { get; internal set; }

        /// <summary>Bytes written on the connection(s), warm-up included.</summary>
        public long BytesSent { get; internal set; }

        /// <summary>Bytes read back, warm-up included.</summary>
        public long BytesReceived { get; internal set; }

        /// <summary>How many bytes read back differ from the bytes sent at the same offset.</summary>
        public long Mismatches { get; internal set; }

        /// <summary>The offset in the connection's byte stream of the first differing byte; null when none differ.</summary>
        public long? FirstMismatchOffset { get; internal set; }

        /// <summary>How long the TCP connect took.</summary>
        public double? ConnectMs { get; internal set; }

        /// <summary>The fastest round trip.</summary>
        public double? RttMinMs { get; internal set; }

        /// <summary>The mean round trip.</summary>
        public double? RttMeanMs { get; internal set; }

        /// <summary>The median round trip.</summary>
        public double? RttP50Ms { get; internal set; }

        /// <summary>The 90th percentile round trip.</summary>
        public double? RttP90Ms { get; internal set; }

        /// <summary>The 99th percentile round trip.</summary>
        public double? RttP99Ms { get; internal set; }

        /// <summary>The slowest round trip.</summary>
        public double? RttMaxMs { get; internal set; }

        /// <summary>The standard deviation of the round trips.</summary>
        public double? RttStdDevMs { get; internal set; }

        /// <summary>Verified bytes read back per second, in MiB (throughput mode).</summary>
        public double? ThroughputMiBps { get; internal set; }

        /// <summary>The whole run, from name resolution to the close.</summary>
        public double DurationMs { get; internal set; }

        /// <summary>Whether TCP_NODELAY was set.</summary>
        public bool NoDelay { get; internal set; }

        /// <summary>The client's endpoint of the connection.</summary>
        public string LocalEndPoint { get; internal set; }

        /// <summary>Each client of a concurrency run, in the order they were answered (shortest wait first); null in other modes.</summary>
        public EchoClientWait[] Clients { get; internal set; }

        /// <summary>The message already names the target (resolve and connect failures), so an error need not repeat it.</summary>
        internal bool MessageNamesTarget { get; set; }

        /// <summary>Every timed round trip in Stopwatch ticks, sorted (Measure-EchoServer's p99.9 and charts); not output.</summary>
        internal long[] SortedRttTicks { get; set; }

        /// <inheritdoc />
        public override string ToString() => $"{TargetName} {Address}:{Port} {Status} {Message}".TrimEnd();
    }

    /// <summary>One client of a concurrency run: how long it waited for its echo.</summary>
    public sealed class EchoClientWait
    {
        /// <summary>The client's number, 1 to the concurrency.</summary>
        public int Client { get; internal set; }

        /// <summary>How the client's exchange ended.</summary>
        public EchoRoundTripStatus Status { get; internal set; }

        /// <summary>The address the client connected to.</summary>
        public string Address { get; internal set; }

        /// <summary>How long the TCP connect took (a queued client connects at once: the kernel accepts for the server).</summary>
        public double? ConnectMs { get; internal set; }

        /// <summary>From the start of the connect to the first echoed byte: the time spent queued behind other clients.</summary>
        public double? WaitMs { get; internal set; }

        /// <summary>The client's endpoint of the connection.</summary>
        public string LocalEndPoint { get; internal set; }

        /// <summary>What went wrong, if anything.</summary>
        public string Message { get; internal set; }

        /// <inheritdoc />
        public override string ToString() => $"#{Client} {Status} {WaitMs:0.0} ms";
    }
}
