using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;

namespace EchoPS.Measure
{
    /// <summary>
    /// Watches one local server's process tree: CPU time (its cgroup's cpu.stat, microseconds, children that ended
    /// included; else /proc ticks), context switches, page faults, resident memory and tasks. Snapshots are taken
    /// before and after each figure; a sampler thread (every 50 ms, between and during figures) keeps the peaks of
    /// resident memory and tasks. Knows nothing of how the server was started.
    /// </summary>
    internal sealed class ServerObserver : IDisposable
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;
        private const int SampleMs = 50;
        private const double PageKiB = 4;

        private readonly int _root;
        private readonly ServerCgroup _group;
        private readonly Func<List<int>> _tree;
        private readonly object _peakGate = new object();
        private readonly List<(string Procs, int[] Pids)> _moved = new List<(string, int[])>();
        private Timer _sampler;
        private long _peakRssKiB;
        private int _peakTasks;

        private ServerObserver(int root, ServerCgroup group, Func<List<int>> tree, string source)
        {
            _root = root;
            _group = group;
            _tree = tree;
            Source = source;
        }

        /// <summary>The process observed (the tree's root).</summary>
        internal int ProcessId => _root;

        /// <summary>
        /// The process a tracer attaches to: the root, or, where the root is a shell or launcher waiting on a single
        /// child (sh -c 'server ...; echo done'), that child, and so on down.
        /// </summary>
        internal int TraceRoot()
        {
            int pid = _root;
            for (int depth = 0; depth < 8; depth++)
            {
                string comm = ProcFs.Read($"/proc/{pid}/comm")?.Trim();
                var children = ProcFs.Tree(pid).Where(p => p != pid && ProcFs.Parent(p) == pid).ToList();
                if (children.Count != 1 || Array.IndexOf(Wrappers, comm) < 0)
                    break;
                pid = children[0];
            }
            return pid;
        }

        private static readonly string[] Wrappers = { "sh", "dash", "bash", "setsid", "taskset", "timeout", "env", "nice" };

        /// <summary>How the figures are read, for the report.</summary>
        internal string Source { get; private set; }

        /// <summary>Observes a server the measurer started (its cgroup when it has one).</summary>
        internal static ServerObserver ForStarted(ServerProcess server) =>
            new ServerObserver(server.ProcessId, server.Group, server.TreeProcesses,
                server.Group != null ? server.Group.Describe + ", every process it started" : "/proc ticks (10 ms) of the tree, reaped children included");

        /// <summary>
        /// Observes a server started elsewhere, its tree from <paramref name="pid"/>. As root, the tree is moved
        /// into a measuring cgroup for the run (CPU in µs from then on, children included) and moved back on
        /// <see cref="Dispose"/>; otherwise /proc ticks.
        /// </summary>
        internal static ServerObserver ForProcess(int pid, string how, List<string> notes)
        {
            // Descendants already in a measuring cgroup (another target's) stay there.
            var tree = ProcFs.Tree(pid).Where(p => p == pid || !(ProcFs.Read($"/proc/{p}/cgroup") ?? string.Empty).Contains("/echops-measure-")).ToList();
            if (ProcFs.StatFields($"/proc/{pid}/stat") == null)
                throw new ArgumentException($"Process {pid} does not exist (or /proc is not readable).");
            var group = ServerCgroup.Create("pid" + pid.ToString(C), out string whyNot);
            var observer = new ServerObserver(pid, group, () => group != null ? group.Processes().ToList() : ProcFs.Tree(pid),
                $"/proc ticks (10 ms) of process {pid} and its descendants ({how})");
            string failed = null;
            if (group != null && observer.MoveInto(tree, out failed))
                observer.Source = $"{group.Describe}: process {pid} ({how}) and its descendants moved in for the run, moved back after";
            else
            {
                group?.Remove();
                observer = new ServerObserver(pid, null, () => ProcFs.Tree(pid), observer.Source);
                notes.Add($"Server CPU of process {pid} is read in 10 ms ticks: no measuring cgroup ({whyNot ?? failed}).");
            }
            if (!File.Exists($"/proc/{pid}/task/{pid}/status") || ProcFs.Read($"/proc/{pid}/io") == null && ProcFs.Read($"/proc/{pid}/status") == null)
                notes.Add($"Process {pid} is only partly readable: some server figures are not observed.");
            return observer;
        }

        /// <summary>
        /// The process listening on a local TCP port, as <c>ss -ltnp</c> finds it: the socket's inode in
        /// /proc/net/tcp(6), then the process holding it whose parent does not (a fork server's children inherit
        /// the listening socket). Null, with why, when none can be named.
        /// </summary>
        internal static int? FindListener(int port, out string why)
        {
            why = null;
            var inodes = ProcFs.ListeningInodes(port);
            if (inodes.Count == 0)
            {
                why = $"nothing listens on local port {port}";
                return null;
            }
            var (pids, unreadable) = ProcFs.Holders(inodes);
            var top = pids.Where(p => !pids.Contains(ProcFs.Parent(p))).ToList();
            if (top.Count == 1)
                return top[0];
            why = top.Count == 0
                ? $"the process listening on port {port} could not be found ({unreadable} processes' descriptors unreadable: another user's, without permission)"
                : $"{top.Count} unrelated processes listen on port {port} ({string.Join(", ", top)}): name one with -ProcessId";
            return null;
        }

        /// <summary>The tree's counters now; a value that cannot be read is null.</summary>
        internal ServerSnapshot Snapshot()
        {
            var pids = _tree();
            var s = new ServerSnapshot { Processes = pids.Count };
            long faults = 0, ticks = 0, rssPages = 0, voluntary = 0, involuntary = 0;
            int tasks = 0;
            bool statOk = pids.Count > 0, switchesOk = pids.Count > 0;
            foreach (int pid in pids)
            {
                var f = ProcFs.StatFields($"/proc/{pid}/stat");
                if (f == null || f.Length < 22)
                {
                    statOk = false;
                    continue;
                }
                faults += L(f[7]) + L(f[8]) + L(f[9]) + L(f[10]);
                ticks += L(f[11]) + L(f[12]) + L(f[13]) + L(f[14]);
                tasks += (int)L(f[17]);
                rssPages += L(f[21]);
                foreach (int tid in ProcFs.Threads(pid))
                {
                    s.TaskIds.Add(tid);
                    string status = ProcFs.Read($"/proc/{pid}/task/{tid}/status");
                    long? v = ProcFs.StatusValue(status, "voluntary_ctxt_switches"), n = ProcFs.StatusValue(status, "nonvoluntary_ctxt_switches");
                    if (v == null || n == null)
                    {
                        switchesOk &= status != null || !Directory.Exists($"/proc/{pid}/task/{tid}"); // a thread that just ended is no failure
                        continue;
                    }
                    voluntary += v.Value;
                    involuntary += n.Value;
                }
            }
            s.Tasks = tasks;
            s.RssKiB = (long)(rssPages * PageKiB);
            if (statOk)
                s.Faults = faults;
            if (switchesOk)
            {
                s.VoluntarySwitches = voluntary;
                s.InvoluntarySwitches = involuntary;
            }
            var cpu = _group?.ReadCpu();
            if (cpu != null)
            {
                s.CpuUs = cpu.Value.Total;
                s.UserUs = cpu.Value.User;
                s.SystemUs = cpu.Value.System;
                s.CpuMicrosecondResolution = true;
            }
            else if (statOk)
                s.CpuUs = ticks * 1e6 / ProcFs.TicksPerSecond;
            Peak(s.RssKiB, s.Tasks);
            return s;
        }

        /// <summary>Starts the sampler of peaks (idempotent).</summary>
        internal void StartSampling()
        {
            if (_sampler == null)
                _sampler = new Timer(_ => SampleOnce(), null, 0, SampleMs);
        }

        /// <summary>The largest resident memory of the whole tree seen (KiB), and the most tasks (threads of all its processes).</summary>
        internal (long RssKiB, int Tasks) Peaks
        {
            get
            {
                lock (_peakGate)
                    return (_peakRssKiB, _peakTasks);
            }
        }

        /// <summary>Stops sampling and moves a process started elsewhere back to its own cgroups.</summary>
        public void Dispose()
        {
            _sampler?.Dispose();
            _sampler = null;
            if (_moved.Count == 0)
                return;
            // Back where they came from (children it started meanwhile with it); if that group is gone, to the nearest parent group.
            string home = _moved[0].Procs;
            while (!File.Exists(home) && Path.GetDirectoryName(Path.GetDirectoryName(home)) is string up && up.Length > 1)
                home = Path.Combine(up, "cgroup.procs");
            foreach (int pid in _group.Processes())
                TryWrite(home, pid);
            _moved.Clear();
            _group.Remove();
        }

        private void SampleOnce()
        {
            try
            {
                long rss = 0;
                int tasks = 0;
                foreach (int pid in _tree())
                {
                    var f = ProcFs.StatFields($"/proc/{pid}/stat");
                    if (f == null || f.Length < 22 || f[0] == "Z")
                        continue;
                    tasks += (int)L(f[17]);
                    rss += L(f[21]);
                }
                Peak((long)(rss * PageKiB), tasks);
            }
            catch (Exception)
            {
                // A sampler must never take the process down: a tree changing under it is expected.
            }
        }

        private void Peak(long rssKiB, int tasks)
        {
            lock (_peakGate)
            {
                _peakRssKiB = Math.Max(_peakRssKiB, rssKiB);
                _peakTasks = Math.Max(_peakTasks, tasks);
            }
        }

        /// <summary>Moves every process of the tree into the measuring group, remembering where each came from.</summary>
        private bool MoveInto(List<int> tree, out string failed)
        {
            failed = null;
            string home = OwnGroupProcs(_root);
            if (home == null)
            {
                failed = $"the cgroup of process {_root} could not be read";
                return false;
            }
            _moved.Add((home, tree.ToArray()));
            foreach (int pid in tree)
            {
                if (!TryWrite(_group.ProcsFile, pid))
                {
                    failed = $"process {pid} could not be moved into {_group.Path}";
                    foreach (int p in _group.Processes())
                        TryWrite(home, p);
                    _moved.Clear();
                    return false;
                }
            }
            return true;
        }

        /// <summary>The cgroup.procs file of the group a process is in now, in the hierarchy of the measuring group.</summary>
        private string OwnGroupProcs(int pid)
        {
            string text = ProcFs.Read($"/proc/{pid}/cgroup");
            if (text == null)
                return null;
            string root = Path.GetDirectoryName(_group.Path);
            foreach (var line in text.Split('\n'))
            {
                var f = line.Split(new[] { ':' }, 3);
                if (f.Length != 3)
                    continue;
                bool match = _group.IsV2 ? f[1].Length == 0 : f[1].Split(',').Contains("cpuacct");
                if (match)
                    return Path.Combine(root + f[2].TrimEnd('/'), "cgroup.procs").Replace("//", "/");
            }
            return null;
        }

        private static bool TryWrite(string file, int pid)
        {
            try
            {
                File.WriteAllText(file, pid.ToString(C));
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return false;
            }
        }

        private static long L(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, C, out long v) ? v : 0;
    }

    /// <summary>A server tree's counters at one moment; null where a counter could not be read.</summary>
    internal sealed class ServerSnapshot
    {
        internal double? CpuUs { get; set; }
        internal double? UserUs { get; set; }
        internal double? SystemUs { get; set; }
        internal bool CpuMicrosecondResolution { get; set; }
        internal long? VoluntarySwitches { get; set; }
        internal long? InvoluntarySwitches { get; set; }
        internal long? Faults { get; set; }
        internal int Processes { get; set; }
        internal int Tasks { get; set; }
        internal long RssKiB { get; set; }
        internal HashSet<int> TaskIds { get; } = new HashSet<int>();
    }
}
