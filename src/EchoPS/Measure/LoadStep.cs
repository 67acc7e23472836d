using System.Globalization;

namespace EchoPS.Measure
{
    /// <summary>
    /// One step of the load figure: so many clients at once, each sending a message, waiting for its whole echo
    /// (verified) and sending the next, for a fixed time. In a result, each value is the median over the rounds;
    /// the spread of round trips/s and p99 over the rounds is given beside them.
    /// </summary>
    public sealed class LoadStep
    {
        /// <summary>Clients at once.</summary>
        public int Clients { get; internal set; }

        /// <summary>Clients that connected within the step's connect wait: -LoadSec + 1.5 s, at most the timeout (the others took no part).</summary>
        public double Connected { get; internal set; }

        /// <summary>Connected clients that got no echo at all during the step (a blocking server serves one).</summary>
        public double Starved { get; internal set; }

        /// <summary>Round trips completed within the step (every byte verified).</summary>
        public double RoundTrips { get; internal set; }

        /// <summary>How long the timed part ran.</summary>
        public double DurationMs { get; internal set; }

        /// <summary>Round trips per second, all clients together.</summary>
        public double RoundTripsPerSec { get; internal set; }

        /// <summary>Verified bytes echoed per second, in MiB.</summary>
        public double MiBps { get; internal set; }

        /// <summary>Median round trip.</summary>
        public double? P50Ms { get; internal set; }

        /// <summary>99th percentile round trip.</summary>
        public double? P99Ms { get; internal set; }

        /// <summary>99.9th percentile round trip.</summary>
        public double? P999Ms { get; internal set; }

        /// <summary>Slowest round trip.</summary>
        public double? MaxMs { get; internal set; }

        /// <summary>Fairness: the fewest round trips one connected client did (0 for a starved one).</summary>
        public double MinPerClient { get; internal set; }

        /// <summary>Fairness: the most round trips one client did.</summary>
        public double MaxPerClient { get; internal set; }

        /// <summary>The measuring process's CPU time per round trip, in µs: all its threads, user and system, over the timed part (connects not included), divided by the round trips counted.</summary>
        public double? MeasurerCpuUsPerRoundTrip { get; internal set; }

        /// <summary>What drove the clients: "epoll" (one thread's event loop, Linux) or "async" (the runtime's asynchronous sockets).</summary>
        public string MeasurerLoop { get; internal set; }

        /// <summary>The measuring process's threads at most during the step.</summary>
        public int MeasurerThreads { get; internal set; }

        /// <summary>The measuring process's threads before the step.</summary>
        public int MeasurerThreadsBefore { get; internal set; }

        /// <summary>Median time to connect, from the step's start (all clients connect at once).</summary>
        public double? ConnectP50Ms { get; internal set; }

        /// <summary>99th percentile time to connect.</summary>
        public double? ConnectP99Ms { get; internal set; }

        /// <summary>The slowest connect.</summary>
        public double? ConnectMaxMs { get; internal set; }

        /// <summary>Round trips/s: the lowest and highest over the rounds (a result's step only).</summary>
        public double? RoundTripsPerSecMin { get; internal set; }

        /// <summary>Round trips/s: the highest over the rounds.</summary>
        public double? RoundTripsPerSecMax { get; internal set; }

        /// <summary>p99: the lowest over the rounds.</summary>
        public double? P99MsMin { get; internal set; }

        /// <summary>p99: the highest over the rounds.</summary>
        public double? P99MsMax { get; internal set; }

        /// <summary>The kernel's TCP counters' growth during the step (machine-wide); summed over rounds in a result.</summary>
        public KernelCounterDelta Kernel { get; internal set; }

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture,
            "{0} clients: {1:0} round trips/s, p99 {2:0.000} ms, {3} starved", Clients, RoundTripsPerSec, P99Ms, Starved);
    }
}
