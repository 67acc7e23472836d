using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;

namespace EchoPS.Measure
{
    /// <summary>
    /// The traced passes of one local server, after the timed rounds and never mixed into them: strace -f -c over
    /// round trips, strace -f -c over connections (syscalls by name, with errors, per operation), and perf stat
    /// over connections (task-clock and context switches, children included) beside the observer's own CPU figure
    /// of the same load. A tool that is missing or cannot attach is said, not hidden.
    /// </summary>
    internal static class SyscallTrace
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        internal static void Run(ServerSide side, ServerObserver observer, int count, Action echoes, Action connections, Func<bool> cancelled)
        {
            try
            {
                RunPasses(side, observer, count, echoes, connections, cancelled);
            }
            catch (Exception ex) when (ex is IOException || ex is System.ComponentModel.Win32Exception || ex is InvalidOperationException || ex is UnauthorizedAccessException)
            {
                side.TraceNote = Append(side.TraceNote, $"The traced pass failed: {ex.Message}");
            }
        }

        private static void RunPasses(ServerSide side, ServerObserver observer, int count, Action echoes, Action connections, Func<bool> cancelled)
        {
            string strace = Which("strace"), perf = Which("perf");
            if (strace == null)
                side.TraceNote = "strace is not installed: no syscall table (apt-get install strace; the tests and build/Bench.ps1 install it through build/DevTools.psm1).";
            else
            {
                Strace(side, observer, strace, "RoundTrip", count, echoes, cancelled);
                Strace(side, observer, strace, "Connections", count, connections, cancelled);
            }
            if (perf == null)
                side.PerfNote = "perf is not installed: no perf stat cross-check (apt-get install linux-perf).";
            else
                PerfStat(side, observer, perf, count, connections);
        }

        private static void Strace(ServerSide side, ServerObserver observer, string strace, string pass, int count, Action load, Func<bool> cancelled)
        {
            string file = Path.GetTempFileName();
            try
            {
                // The root only: -f follows every thread and every child it starts; a listed child that ended meanwhile would stop the tracer.
                string args = "-f -c -o \"" + file + "\" -p " + observer.TraceRoot().ToString(C);
                using (var tracer = StartTool(strace, args))
                {
                    if (!WaitTraced(observer.TraceRoot(), tracer))
                    {
                        Interrupt(tracer);
                        side.TraceNote = Append(side.TraceNote, $"strace could not attach to process {observer.ProcessId} (no ptrace permission?): {Err(tracer)}");
                        return;
                    }
                    Thread.Sleep(300); // the other threads and processes attach right after the first
                    try
                    {
                        load();
                    }
                    finally
                    {
                        Interrupt(tracer);
                    }
                }
                foreach (var row in ParseStrace(File.ReadAllLines(file)))
                {
                    row.Pass = pass;
                    row.PerOperation = row.Calls / (double)count;
                    side.Syscalls.Add(row);
                }
            }
            finally
            {
                File.Delete(file);
            }
        }

        private static void PerfStat(ServerSide side, ServerObserver observer, string perf, int count, Action connections)
        {
            string file = Path.GetTempFileName();
            try
            {
                // The root's threads; children it starts from now on are inherited (counted when they end).
                string args = "stat -x ; -e task-clock,context-switches,page-faults,cycles,instructions -o \"" + file + "\" -p " + observer.TraceRoot().ToString(C);
                ServerSnapshot before, after;
                using (var tool = StartTool(perf, args))
                {
                    Thread.Sleep(300);
                    if (tool.HasExited)
                    {
                        side.PerfNote = $"perf stat could not attach: {Err(tool)}";
                        return;
                    }
                    before = observer.Snapshot();
                    try
                    {
                        connections();
                    }
                    finally
                    {
                        after = observer.Snapshot();
                        Interrupt(tool);
                    }
                }
                var counters = new Dictionary<string, string>();
                foreach (var line in File.ReadAllLines(file).Where(l => l.Length > 0 && !l.StartsWith("#", StringComparison.Ordinal)))
                {
                    var f = line.Split(';');
                    if (f.Length > 2)
                        counters[f[2]] = f[0];
                }
                if (counters.TryGetValue("task-clock", out var ms) && double.TryParse(ms, NumberStyles.Float, C, out double taskMs))
                    side.PerfCpuUsPerConnection = taskMs * 1000 / count;
                if (counters.TryGetValue("context-switches", out var cs) && double.TryParse(cs, NumberStyles.Float, C, out double switches))
                    side.PerfSwitchesPerConnection = switches / count;
                if (before.CpuUs != null && after.CpuUs != null)
                    side.ObservedCpuUsPerConnectionUnderPerf = (after.CpuUs.Value - before.CpuUs.Value) / count;
                bool hardware = counters.TryGetValue("cycles", out var cycles) && double.TryParse(cycles, NumberStyles.Float, C, out _);
                side.PerfNote = hardware ? "perf stat: hardware counters available." : $"perf stat: hardware counters (cycles, instructions) not supported here ({cycles ?? "absent"}); software counters used.";
            }
            finally
            {
                File.Delete(file);
            }
        }

        /// <summary>strace -c's table: "% time seconds usecs/call calls [errors] syscall" rows, the total left out.</summary>
        internal static IEnumerable<SyscallCount> ParseStrace(IEnumerable<string> lines)
        {
            foreach (var line in lines)
            {
                var f = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 5 || !char.IsDigit(f[0][0]) || f[f.Length - 1] == "total" || !long.TryParse(f[3], NumberStyles.None, C, out long calls))
                    continue;
                long errors = f.Length >= 6 && long.TryParse(f[4], NumberStyles.None, C, out long e) ? e : 0;
                yield return new SyscallCount { Syscall = f[f.Length - 1], Calls = calls, Errors = errors };
            }
        }

        /// <summary>A program on PATH, or null.</summary>
        internal static string Which(string name) =>
            (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Where(d => d.Length > 0)
                .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

        private static Process StartTool(string path, string args) =>
            Process.Start(new ProcessStartInfo(path, args) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true });

        private static bool WaitTraced(int pid, Process tracer)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(10) && !tracer.HasExited)
            {
                if ((ProcFs.StatusValue(ProcFs.Read($"/proc/{pid}/status"), "TracerPid") ?? 0) != 0)
                    return true;
                Thread.Sleep(20);
            }
            return false;
        }

        /// <summary>SIGINT (strace and perf then write their summary), bounded; KILL after 15 s.</summary>
        private static void Interrupt(Process tool)
        {
            if (!tool.HasExited)
                ProcFs.Kill(tool.Id, ProcFs.SigInt);
            if (!tool.WaitForExit(15000))
            {
                tool.Kill();
                tool.WaitForExit(5000);
            }
        }

        private static string Err(Process tool)
        {
            try
            {
                return tool.HasExited ? tool.StandardError.ReadToEnd().Trim() : "(still running)";
            }
            catch (InvalidOperationException)
            {
                return string.Empty;
            }
        }

        private static string Append(string a, string b) => a == null ? b : a + " " + b;
    }
}
