using System;
using System.Globalization;
using System.IO;
using System.Linq;

namespace EchoPS.Measure
{
    /// <summary>
    /// A cgroup of its own for a server the measurer starts: every process and thread the server ever runs is in
    /// it, so its CPU time counts children that already exited. cgroup v2 where a child group can be made
    /// (cpu.stat: usage_usec, user_usec, system_usec, microseconds), else v1 cpuacct (cpuacct.usage in ns,
    /// cpuacct.stat's user/system split in ticks). Null from <see cref="Create"/> where neither can be made
    /// (not root, no cgroup file system): the observer then falls back to per-thread schedstat.
    /// </summary>
    internal sealed class ServerCgroup
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;
        private static int _made;

        private ServerCgroup(string path, bool v2)
        {
            Path = path;
            IsV2 = v2;
        }

        /// <summary>The group's folder.</summary>
        internal string Path { get; }

        /// <summary>True for cgroup v2, false for v1 cpuacct.</summary>
        internal bool IsV2 { get; }

        /// <summary>How the CPU time is read, for the report.</summary>
        internal string Describe => IsV2 ? "cgroup v2 cpu.stat (" + Path + ")" : "cgroup v1 cpuacct.usage (" + Path + ")";

        /// <summary>The file a process writes its pid to, to join the group.</summary>
        internal string ProcsFile => System.IO.Path.Combine(Path, "cgroup.procs");

        /// <summary>Makes a new group, or returns null (with why) where none can be made.</summary>
        internal static ServerCgroup Create(string label, out string whyNot)
        {
            whyNot = null;
            if (!ProcFs.Available)
            {
                whyNot = "not Linux";
                return null;
            }
            string name = string.Format(C, "echops-measure-{0}-{1}-{2}", System.Diagnostics.Process.GetCurrentProcess().Id,
                System.Threading.Interlocked.Increment(ref _made), new string(label.Where(char.IsLetterOrDigit).Take(20).ToArray()));
            string v2Root = File.Exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified"
                : File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : null;
            var reasons = new System.Collections.Generic.List<string>();
            foreach (var (root, v2) in new[] { (v2Root, true), ("/sys/fs/cgroup/cpuacct", false) })
            {
                if (root == null || !Directory.Exists(root))
                {
                    reasons.Add((v2 ? "cgroup v2" : "cgroup v1 cpuacct") + " is not mounted");
                    continue;
                }
                string path = System.IO.Path.Combine(root, name);
                try
                {
                    Directory.CreateDirectory(path);
                    var group = new ServerCgroup(path, v2);
                    if (group.ReadCpu() != null)
                        return group;
                    group.Remove();
                    reasons.Add($"{path} has no CPU accounting");
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    reasons.Add($"cannot make {path}: {ex.Message}");
                }
            }
            whyNot = string.Join("; ", reasons);
            return null;
        }

        /// <summary>The processes in the group now (zombies included until reaped).</summary>
        internal int[] Processes() => ProcFs.PidsIn(ProcsFile) ?? new int[0];

        /// <summary>Threads in the group now (every process's), or null.</summary>
        internal int? Threads() => ProcFs.PidsIn(System.IO.Path.Combine(Path, IsV2 ? "cgroup.threads" : "tasks"))?.Length;

        /// <summary>CPU time of everything that ever ran in the group, in µs: total, user, system (user/system null where not split).</summary>
        internal (double Total, double? User, double? System)? ReadCpu()
        {
            if (IsV2)
            {
                string stat = ProcFs.Read(System.IO.Path.Combine(Path, "cpu.stat"));
                double? usage = Field(stat, "usage_usec"), user = Field(stat, "user_usec"), system = Field(stat, "system_usec");
                return usage == null ? ((double, double?, double?)?)null : (usage.Value, user, system);
            }
            string ns = ProcFs.Read(System.IO.Path.Combine(Path, "cpuacct.usage"))?.Trim();
            if (!double.TryParse(ns, NumberStyles.Float, C, out double total))
                return null;
            string split = ProcFs.Read(System.IO.Path.Combine(Path, "cpuacct.stat"));
            double? u = Field(split, "user"), s = Field(split, "system");
            // cpuacct.stat is in ticks: share the nanosecond total out in its proportion.
            if (u != null && s != null && u + s > 0)
                return (total / 1000, total / 1000 * u / (u + s), total / 1000 * s / (u + s));
            return (total / 1000, null, null);
        }

        /// <summary>Removes the group (it must be empty); false when it could not be.</summary>
        internal bool Remove()
        {
            for (int i = 0; i < 50; i++)
            {
                try
                {
                    Directory.Delete(Path);
                    return true;
                }
                catch (DirectoryNotFoundException)
                {
                    return true;
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    System.Threading.Thread.Sleep(20); // the last exits are still being accounted
                }
            }
            return false;
        }

        private static double? Field(string text, string name)
        {
            if (text == null)
                return null;
            foreach (var line in text.Split('\n'))
            {
                var f = line.Split(' ');
                if (f.Length == 2 && f[0] == name && double.TryParse(f[1], NumberStyles.Float, C, out double v))
                    return v;
            }
            return null;
        }
    }
}
