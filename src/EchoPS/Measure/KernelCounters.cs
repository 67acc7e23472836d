using System;
using System.Collections.Generic;
using System.Globalization;

namespace EchoPS.Measure
{
    /// <summary>
    /// The kernel's TCP counters that explain a capacity or load figure, read from /proc/net/netstat (TcpExt) and
    /// /proc/net/snmp (Tcp). They are machine-wide: every process's connections count, not only the measurer's.
    /// Null where the files are missing (not Linux) or a counter is not there.
    /// </summary>
    internal static class KernelCounters
    {
        private static readonly string[] Wanted =
        {
            "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPSynRetrans", "Tcp.RetransSegs", "Tcp.OutRsts",
            "Tcp.EstabResets", "Tcp.AttemptFails",
        };

        /// <summary>A snapshot of the counters; null when they cannot be read.</summary>
        internal static Dictionary<string, long> Read()
        {
            var values = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var file in new[] { "/proc/net/netstat", "/proc/net/snmp" })
            {
                string text = ProcFs.Read(file); // null where the file is missing or unreadable
                if (text != null)
                    Parse(text.Split('\n'), values);
            }
            return values.Count == 0 ? null : values;
        }

        /// <summary>The pairs of lines "Prefix: name name ..." and "Prefix: value value ...", as Prefix.name = value.</summary>
        internal static void Parse(IReadOnlyList<string> lines, Dictionary<string, long> into)
        {
            for (int i = 0; i + 1 < lines.Count; i++)
            {
                int colon = lines[i].IndexOf(':');
                if (colon <= 0 || !lines[i + 1].StartsWith(lines[i].Substring(0, colon + 1), StringComparison.Ordinal))
                    continue;
                string prefix = lines[i].Substring(0, colon);
                var names = lines[i].Substring(colon + 1).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                var numbers = lines[i + 1].Substring(colon + 1).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (names.Length != numbers.Length || names.Length == 0 || !long.TryParse(numbers[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                    continue;
                for (int k = 0; k < names.Length; k++)
                    if (long.TryParse(numbers[k], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                        into[prefix + "." + names[k]] = value;
                i++;
            }
        }

        /// <summary>What grew between two snapshots; null when either is missing.</summary>
        internal static KernelCounterDelta Delta(Dictionary<string, long> before, Dictionary<string, long> after)
        {
            if (before == null || after == null)
                return null;
            long? d(string key) => before.TryGetValue(key, out long b) && after.TryGetValue(key, out long a) ? a - b : (long?)null;
            return new KernelCounterDelta
            {
                ListenOverflows = d(Wanted[0]),
                ListenDrops = d(Wanted[1]),
                SynRetransmits = d(Wanted[2]),
                Retransmits = d(Wanted[3]),
                ResetsSent = d(Wanted[4]),
                EstablishedResets = d(Wanted[5]),
                FailedConnects = d(Wanted[6]),
            };
        }
    }

    /// <summary>
    /// How much the kernel's TCP counters grew during one figure (machine-wide: every process's connections count).
    /// A listen-queue overflow drops the SYN; the client's kernel sends it again after 1 s, then 3 s: a step at
    /// those times in a capacity timeline.
    /// </summary>
    public sealed class KernelCounterDelta
    {
        /// <summary>Connections dropped because a listen (accept) queue was full (TcpExt ListenOverflows).</summary>
        public long? ListenOverflows { get; internal set; }

        /// <summary>SYNs dropped at a listening socket for any reason, overflows included (TcpExt ListenDrops).</summary>
        public long? ListenDrops { get; internal set; }

        /// <summary>SYNs (and SYN-ACKs) sent again after no answer (TcpExt TCPSynRetrans).</summary>
        public long? SynRetransmits { get; internal set; }

        /// <summary>Segments sent again (Tcp RetransSegs).</summary>
        public long? Retransmits { get; internal set; }

        /// <summary>Resets sent (Tcp OutRsts).</summary>
        public long? ResetsSent { get; internal set; }

        /// <summary>Established connections ended by a reset, sent or received (Tcp EstabResets).</summary>
        public long? EstablishedResets { get; internal set; }

        /// <summary>Connection attempts that failed (Tcp AttemptFails: a reset answering a SYN, among others).</summary>
        public long? FailedConnects { get; internal set; }

        /// <summary>True when a listen queue overflowed: connects then wait for the 1 s SYN retransmit.</summary>
        public bool Overflowed => (ListenOverflows ?? 0) > 0 || (ListenDrops ?? 0) > 0;

        /// <summary>The sum of two deltas (over rounds or steps); null parts stay null.</summary>
        internal static KernelCounterDelta Sum(IEnumerable<KernelCounterDelta> deltas)
        {
            KernelCounterDelta total = null;
            foreach (var d in deltas)
            {
                if (d == null)
                    continue;
                total = total == null ? new KernelCounterDelta() : total;
                total.ListenOverflows = Add(total.ListenOverflows, d.ListenOverflows);
                total.ListenDrops = Add(total.ListenDrops, d.ListenDrops);
                total.SynRetransmits = Add(total.SynRetransmits, d.SynRetransmits);
                total.Retransmits = Add(total.Retransmits, d.Retransmits);
                total.ResetsSent = Add(total.ResetsSent, d.ResetsSent);
                total.EstablishedResets = Add(total.EstablishedResets, d.EstablishedResets);
                total.FailedConnects = Add(total.FailedConnects, d.FailedConnects);
            }
            return total;
        }

        private static long? Add(long? a, long? b) => a == null ? b : b == null ? a : a + b;

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture,
            "ListenOverflows {0}, ListenDrops {1}, SYN retransmits {2}, retransmits {3}, resets sent {4}, established resets {5}, failed connects {6} (machine-wide)",
            ListenOverflows, ListenDrops, SynRetransmits, Retransmits, ResetsSent, EstablishedResets, FailedConnects);
    }
}
