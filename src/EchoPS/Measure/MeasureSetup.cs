using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;

namespace EchoPS.Measure
{
    /// <summary>Where and how a measurement ran: the machine, the sizes, and what was limited and why.</summary>
    public sealed class MeasureSetup
    {
        /// <summary>When the run started (local time).</summary>
        public DateTimeOffset Started { get; private set; }

        /// <summary>The operating system.</summary>
        public string OperatingSystem { get; private set; }

        /// <summary>The .NET runtime the measurer ran on.</summary>
        public string Runtime { get; private set; }

        /// <summary>Logical processors.</summary>
        public int Processors { get; private set; }

        /// <summary>The measurer's version (EchoPS).</summary>
        public string Version { get; private set; }

        /// <summary>The process's open-file (soft) limit during the capacity probe; null when not read.</summary>
        public long? DescriptorLimit { get; internal set; }

        /// <summary>True when the capacity probe opened fewer connections than asked (see Notes).</summary>
        public bool CapacityLimited { get; internal set; }

        /// <summary>The targets, in measuring order.</summary>
        public string[] Targets { get; private set; }

        /// <summary>The sizes and counts of every figure, in words.</summary>
        public string[] Sizes { get; private set; }

        /// <summary>Notes on the whole run: limits raised or hit.</summary>
        public List<string> Notes { get; } = new List<string>();

        /// <summary>CPUs of the machine (not the measurer's affinity: see <see cref="MeasurerCpus"/>).</summary>
        public int? MachineCpus { get; internal set; }

        /// <summary>The CPUs the measurer may run on (its affinity), e.g. "1" under taskset -c 1.</summary>
        public string MeasurerCpus { get; internal set; }

        /// <summary>True when the measurer's affinity is narrower than the machine.</summary>
        public bool MeasurerPinned { get; internal set; }

        /// <summary>Load average (1, 5, 15 min) before the timed rounds.</summary>
        public string LoadAverageBefore { get; internal set; }

        /// <summary>Load average after the timed rounds.</summary>
        public string LoadAverageAfter { get; internal set; }

        /// <summary>Busy time on the pinned CPUs not explained by the measurer and the observed servers, in % of the rounds' time.</summary>
        public double? PinnedCpuOtherWorkPercent { get; internal set; }

        /// <summary>The same in words, or why it cannot be told.</summary>
        public string PinnedCpuOtherWork { get; internal set; }

        internal static MeasureSetup Describe(MeasureOptions o, IReadOnlyList<MeasureTarget> targets)
        {
            var c = CultureInfo.InvariantCulture;
            var sizes = new List<string>
            {
                string.Format(c, "Rounds: {0}, targets measured in turn within each round (order reversed every other round); medians over rounds.", o.Rounds),
            };
            bool has(MeasureFigure f) => (o.Figures & f) != 0;
            if (has(MeasureFigure.RoundTrip))
                sizes.Add(string.Format(c, "Round trip: {0} messages of {1} bytes after one warm-up, one connection, every byte verified.", o.RoundTripCount, o.MessageSize));
            if (has(MeasureFigure.Stream))
                sizes.Add(string.Format(c, "Stream: {0:0.###} s full duplex in {1}-byte writes, every byte verified.", o.StreamDuration.TotalSeconds, o.StreamChunkSize));
            if (has(MeasureFigure.Connections))
                sizes.Add(string.Format(c, "Connections: {0} in sequence, each connect, one {1}-byte echo (verified), close.", o.ConnectionCount, o.MessageSize));
            if (has(MeasureFigure.Slots))
                sizes.Add(string.Format(c, "Slots: {0} clients connect together, each holds {1:0.###} ms after its echo; a slot is a client echoed within half a hold of the first.", o.SlotClients, o.SlotHold.TotalMilliseconds));
            if (has(MeasureFigure.Capacity))
                sizes.Add(string.Format(c, "Capacity: {0} connections at once, one {1}-byte message each, kept open; echoes counted for {2:0.###} s.", o.CapacityConnections, o.MessageSize, o.CapacityWait.TotalSeconds));
            if (has(MeasureFigure.Load))
                sizes.Add(string.Format(c, "Load: {0} clients at once (one step each), each sends a {1}-byte message, waits for its whole echo (verified) and repeats, for {2:0.###} s; clients connect first, within {3:0.###} s (-LoadSec + 1.5 s, at most the timeout).", string.Join(", ", o.LoadClients), o.MessageSize, o.LoadDuration.TotalSeconds, EchoServerMeasurer.LoadConnectWait(o).TotalSeconds));
            if (o.IdleConnections > 0)
                sizes.Add(string.Format(c, "Idle connections: {0} opened to every server before the figures (each with one {1}-byte echo), held silent during them.", o.IdleConnections, o.MessageSize));
            sizes.Add(string.Format(c, "Timeout: {0:0.###} s for each connect and every read.", o.Timeout.TotalSeconds));
            return new MeasureSetup
            {
                Started = DateTimeOffset.Now,
                OperatingSystem = RuntimeInformation.OSDescription.Trim(),
                Runtime = RuntimeInformation.FrameworkDescription,
                Processors = Environment.ProcessorCount,
                Version = typeof(MeasureSetup).Assembly.GetName().Version.ToString(3),
                Targets = targets.Select(t => t.ToString()).ToArray(),
                Sizes = sizes.ToArray(),
            };
        }
    }
}
