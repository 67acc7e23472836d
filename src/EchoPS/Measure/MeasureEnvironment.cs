using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace EchoPS.Measure
{
    /// <summary>
    /// The machine as the run found it: CPUs (the machine's, not the measurer's affinity), pinning of the measurer
    /// and the servers, load average before and after the timed rounds, and other work on the pinned CPUs: busy
    /// time there (/proc/stat) not explained by the measurer and the observed servers.
    /// </summary>
    internal sealed class MeasureEnvironment
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;
        private List<int> _pinned;
        private long[] _busyBefore;
        private double _measurerBefore;
        private double? _serversBefore;
        private DateTime _start;
        private ServerObserver[] _observers;
        private bool _serversOnPinned;

        internal static MeasureEnvironment Begin(string serverCpus, ServerObserver[] observers)
        {
            var env = new MeasureEnvironment { _observers = observers, _start = DateTime.UtcNow };
            if (!ProcFs.Available)
                return env;
            env._pinned = ProcFs.Affinity();
            int machine = ProcFs.MachineCpus() ?? Environment.ProcessorCount;
            if (env._pinned != null && env._pinned.Count >= machine)
                env._pinned = null; // not pinned: the whole machine
            var servers = ProcFs.ParseCpuList(serverCpus);
            env._serversOnPinned = env._pinned != null && servers != null && servers.All(env._pinned.Contains);
            env._busyBefore = Busy(env._pinned);
            env._measurerBefore = MeasurerUs();
            env._serversBefore = ServersUs(observers);
            env.LoadBefore = LoadAverage();
            return env;
        }

        internal string LoadBefore { get; private set; }

        /// <summary>Fills the set-up's environment lines at the end of the timed rounds.</summary>
        internal void End(MeasureSetup setup)
        {
            if (!ProcFs.Available)
                return;
            setup.MachineCpus = ProcFs.MachineCpus();
            var affinity = ProcFs.Affinity();
            setup.MeasurerCpus = affinity == null ? null : ProcFs.FormatCpuList(affinity);
            setup.MeasurerPinned = _pinned != null;
            setup.LoadAverageBefore = LoadBefore;
            setup.LoadAverageAfter = LoadAverage();
            if (_pinned == null || _busyBefore == null)
            {
                setup.PinnedCpuOtherWork = "The measurer is not pinned: other work on its CPUs cannot be told apart (pin it with taskset to see this).";
                return;
            }
            var busyAfter = Busy(_pinned);
            double wallUs = (DateTime.UtcNow - _start).TotalMilliseconds * 1000 * _pinned.Count;
            double busyUs = (busyAfter[0] - _busyBefore[0]) * 1e6 / ProcFs.TicksPerSecond;
            double measurer = MeasurerUs() - _measurerBefore;
            double? serversAfter = ServersUs(_observers);
            double explained = measurer;
            string who = "the measurer";
            if (_serversOnPinned && serversAfter != null && _serversBefore != null)
            {
                explained += serversAfter.Value - _serversBefore.Value;
                who = "the measurer and the servers";
            }
            double other = Math.Max(0, busyUs - explained);
            setup.PinnedCpuOtherWorkPercent = wallUs > 0 ? 100 * other / wallUs : (double?)null;
            setup.PinnedCpuOtherWork = string.Format(C,
                "CPU {0} was busy {1:0.0} % of the timed rounds; {2} explain {3:0.0} %; other work: {4:0.0} % ({5}, from /proc/stat at 10 ms resolution).",
                ProcFs.FormatCpuList(_pinned), 100 * busyUs / wallUs, who, 100 * explained / wallUs, setup.PinnedCpuOtherWorkPercent,
                setup.PinnedCpuOtherWorkPercent < 5 ? "quiet" : "the figures carry other work's noise");
        }

        /// <summary>Busy ticks (all but idle and iowait) summed over the CPUs (all when null).</summary>
        private static long[] Busy(List<int> cpus)
        {
            string stat = ProcFs.Read("/proc/stat");
            if (stat == null)
                return null;
            long busy = 0;
            foreach (var line in stat.Split('\n'))
            {
                if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.StartsWith("cpu ", StringComparison.Ordinal))
                    continue;
                var f = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (!int.TryParse(f[0].Substring(3), NumberStyles.None, C, out int cpu) || (cpus != null && !cpus.Contains(cpu)))
                    continue;
                var v = f.Skip(1).Take(8).Select(x => long.Parse(x, C)).ToArray(); // user nice system idle iowait irq softirq steal
                busy += v.Sum() - v[3] - v[4] - (v.Length > 7 ? v[7] : 0);
            }
            return new[] { busy };
        }

        private static double MeasurerUs()
        {
            var f = ProcFs.StatFields("/proc/self/stat");
            return f == null ? 0 : (long.Parse(f[11], C) + long.Parse(f[12], C)) * 1e6 / ProcFs.TicksPerSecond;
        }

        private static double? ServersUs(ServerObserver[] observers)
        {
            double sum = 0;
            foreach (var o in observers)
            {
                var cpu = o.Snapshot().CpuUs;
                if (cpu == null)
                    return null;
                sum += cpu.Value;
            }
            return sum;
        }

        private static string LoadAverage()
        {
            var f = ProcFs.Read("/proc/loadavg")?.Split(' ');
            return f == null || f.Length < 3 ? null : string.Join(" ", f.Take(3));
        }
    }
}
