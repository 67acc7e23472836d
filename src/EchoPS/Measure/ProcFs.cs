using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace EchoPS.Measure
{
    /// <summary>
    /// Reading Linux's /proc and /sys: processes, their threads and children, listening sockets, CPU lists. Every
    /// read that fails (a process gone, no permission) yields null, never a zero that was not read.
    /// </summary>
    internal static class ProcFs
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        internal static bool Available => RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && Directory.Exists("/proc/self");

        /// <summary>A file's text, or null when it cannot be read.</summary>
        internal static string Read(string path)
        {
            try
            {
                return File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>The fields of /proc/PID/stat after the command name (field 3, state, is index 0), or null.</summary>
        internal static string[] StatFields(string path)
        {
            string text = Read(path);
            int close = text?.LastIndexOf(')') ?? -1;
            return close < 0 ? null : text.Substring(close + 2).Split(' ');
        }

        /// <summary>A "Name:  value" line's first number from a status file, or null.</summary>
        internal static long? StatusValue(string status, string name)
        {
            if (status == null)
                return null;
            foreach (var line in status.Split('\n'))
            {
                if (!line.StartsWith(name + ":", StringComparison.Ordinal))
                    continue;
                var digits = new string(line.Substring(name.Length + 1).Trim().TakeWhile(char.IsDigit).ToArray());
                return long.TryParse(digits, NumberStyles.None, C, out long v) ? v : (long?)null;
            }
            return null;
        }

        /// <summary>The thread ids of a process, or an empty array when it is gone or unreadable.</summary>
        internal static int[] Threads(int pid) => Numbers(() => Directory.GetDirectories($"/proc/{pid}/task"));

        /// <summary>A process and every descendant (through /proc/PID/task/TID/children), the process first.</summary>
        internal static List<int> Tree(int pid)
        {
            var all = new List<int>();
            var seen = new HashSet<int>();
            var queue = new Queue<int>();
            queue.Enqueue(pid);
            while (queue.Count > 0 && all.Count < 100_000)
            {
                int p = queue.Dequeue();
                if (!seen.Add(p) || !Directory.Exists($"/proc/{p}"))
                    continue;
                all.Add(p);
                foreach (int tid in Threads(p))
                {
                    string children = Read($"/proc/{p}/task/{tid}/children");
                    if (children == null)
                        continue;
                    foreach (var c in children.Split(new[] { ' ', '\n' }, StringSplitOptions.RemoveEmptyEntries))
                        if (int.TryParse(c, NumberStyles.None, C, out int child))
                            queue.Enqueue(child);
                }
            }
            return all;
        }

        /// <summary>The pids listed in a cgroup.procs (or tasks) file; null when unreadable.</summary>
        internal static int[] PidsIn(string file)
        {
            string text = Read(file);
            return text?.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s.Trim(), NumberStyles.None, C, out int v) ? v : 0).Where(v => v > 0).ToArray();
        }

        /// <summary>True when something listens on this TCP port (any local address, IPv4 or IPv6).</summary>
        internal static bool IsListening(int port) => ListeningInodes(port).Count > 0;

        /// <summary>The socket inodes listening on this TCP port, from /proc/net/tcp and tcp6.</summary>
        internal static List<long> ListeningInodes(int port)
        {
            var inodes = new List<long>();
            string hexPort = ":" + port.ToString("X4", C);
            foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            {
                string text = Read(file);
                if (text == null)
                    continue;
                foreach (var line in text.Split('\n').Skip(1))
                {
                    var f = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                    // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode
                    if (f.Length > 9 && f[1].EndsWith(hexPort, StringComparison.Ordinal) && f[3] == "0A"
                        && long.TryParse(f[9], NumberStyles.None, C, out long inode) && inode > 0)
                        inodes.Add(inode);
                }
            }
            return inodes;
        }

        /// <summary>
        /// The processes holding one of these socket inodes open (as <c>ss -ltnp</c> finds them), by scanning
        /// /proc/*/fd; processes whose descriptors cannot be read are skipped and counted.
        /// </summary>
        internal static (List<int> Pids, int Unreadable) Holders(ICollection<long> inodes)
        {
            var pids = new List<int>();
            int unreadable = 0;
            var wanted = new HashSet<string>(inodes.Select(i => "socket:[" + i.ToString(C) + "]"));
            foreach (int pid in Numbers(() => Directory.GetDirectories("/proc")))
            {
                string[] fds;
                try
                {
                    fds = Directory.GetFileSystemEntries($"/proc/{pid}/fd");
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    unreadable++;
                    continue;
                }
                foreach (var fd in fds)
                {
                    if (wanted.Contains(ReadLink(fd)))
                    {
                        pids.Add(pid);
                        break;
                    }
                }
            }
            return (pids, unreadable);
        }

        /// <summary>The parent of a process, or 0.</summary>
        internal static int Parent(int pid)
        {
            var f = StatFields($"/proc/{pid}/stat");
            return f != null && f.Length > 1 && int.TryParse(f[1], NumberStyles.None, C, out int ppid) ? ppid : 0;
        }

        /// <summary>A process's command line with spaces between the arguments, or null.</summary>
        internal static string CommandLine(int pid) => Read($"/proc/{pid}/cmdline")?.TrimEnd('\0').Replace('\0', ' ');

        /// <summary>CPUs configured on the machine (not this process's affinity): /sys/devices/system/cpu/present, else /proc/cpuinfo.</summary>
        internal static int? MachineCpus()
        {
            var present = ParseCpuList(Read("/sys/devices/system/cpu/present"));
            if (present != null && present.Count > 0)
                return present.Count;
            string info = Read("/proc/cpuinfo");
            int n = info?.Split('\n').Count(l => l.StartsWith("processor", StringComparison.Ordinal)) ?? 0;
            return n > 0 ? n : (int?)null;
        }

        /// <summary>The CPUs a process may run on (Cpus_allowed_list), or null.</summary>
        internal static List<int> Affinity(string pid = "self")
        {
            string status = Read($"/proc/{pid}/status");
            var line = status?.Split('\n').FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            return line == null ? null : ParseCpuList(line.Substring("Cpus_allowed_list:".Length));
        }

        /// <summary>"0-2,5" as 0, 1, 2, 5; null when it is not a CPU list.</summary>
        internal static List<int> ParseCpuList(string text)
        {
            if (text == null)
                return null;
            var cpus = new SortedSet<int>();
            foreach (var part in text.Trim().Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries))
            {
                var range = part.Trim().Split('-');
                if (range.Length > 2 || !int.TryParse(range[0], NumberStyles.None, C, out int from))
                    return null;
                int to = from;
                if (range.Length == 2 && !int.TryParse(range[1], NumberStyles.None, C, out to))
                    return null;
                if (to < from || to - from > 4096)
                    return null;
                for (int cpu = from; cpu <= to; cpu++)
                    cpus.Add(cpu);
            }
            return cpus.Count == 0 ? null : cpus.ToList();
        }

        /// <summary>A CPU list written back compactly: 0, 1, 2, 5 as "0-2,5".</summary>
        internal static string FormatCpuList(IEnumerable<int> cpus)
        {
            var sorted = cpus.Distinct().OrderBy(c => c).ToArray();
            var parts = new List<string>();
            for (int i = 0; i < sorted.Length;)
            {
                int j = i;
                while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
                    j++;
                parts.Add(j == i ? sorted[i].ToString(C) : sorted[i].ToString(C) + "-" + sorted[j].ToString(C));
                i = j + 1;
            }
            return string.Join(",", parts);
        }

        /// <summary>Clock ticks per second for /proc's tick counts (USER_HZ: 100 on every Linux .NET runs on).</summary>
        internal const double TicksPerSecond = 100;

        private static int[] Numbers(Func<string[]> list)
        {
            try
            {
                return list().Select(Path.GetFileName)
                    .Select(n => int.TryParse(n, NumberStyles.None, C, out int v) ? v : 0).Where(v => v > 0).ToArray();
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return new int[0];
            }
        }

        [DllImport("libc", EntryPoint = "readlink", SetLastError = true)]
        private static extern long readlink(string path, byte[] buffer, UIntPtr size);

        private static string ReadLink(string path)
        {
            var buffer = new byte[256];
            long n = readlink(path, buffer, (UIntPtr)buffer.Length);
            return n <= 0 ? string.Empty : Encoding.UTF8.GetString(buffer, 0, (int)n);
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        internal static extern int Kill(int pid, int signal);

        internal const int SigInt = 2;
        internal const int SigKill = 9;
        internal const int SigTerm = 15;
    }
}
