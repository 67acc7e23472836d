using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace EchoPS.Measure
{
    /// <summary>
    /// A server the measurer starts from a command line with "{port}": on a free loopback port, in a session and
    /// process group of its own (setsid), in a cgroup of its own where one can be made, pinned with taskset where
    /// CPUs are given, its output going to files. <see cref="Stop"/> ends the whole tree: TERM to the process group
    /// and to every process of the cgroup, KILL after a grace, then removes the cgroup.
    /// </summary>
    internal sealed class ServerProcess : IDisposable
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;
        private static readonly char[] ShellSyntax = { ';', '&', '|', '<', '>', '(', ')', '`', '$', '\n' };
        private readonly Process _process;
        private bool _stopped;

        private ServerProcess(Process process, int port, string command, string cpus, ServerCgroup group, string output)
        {
            _process = process;
            Port = port;
            Command = command;
            Cpus = cpus;
            Group = group;
            OutputPath = output;
        }

        /// <summary>The process the measurer started (the session and process group leader).</summary>
        internal int ProcessId => _process.Id;

        /// <summary>The port it was given.</summary>
        internal int Port { get; }

        /// <summary>The command line as run, {port} filled in.</summary>
        internal string Command { get; }

        /// <summary>The CPU list it is pinned to, or null when it is not.</summary>
        internal string Cpus { get; }

        /// <summary>Its cgroup, or null.</summary>
        internal ServerCgroup Group { get; }

        /// <summary>The file with its standard output and error.</summary>
        internal string OutputPath { get; }

        /// <summary>Notes for the report: why no cgroup, what had to be killed.</summary>
        internal List<string> Notes { get; } = new List<string>();

        /// <summary>A loopback port that was free a moment ago.</summary>
        internal static int FreePort()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            try
            {
                return ((IPEndPoint)probe.LocalEndpoint).Port;
            }
            finally
            {
                probe.Stop();
            }
        }

        /// <summary>
        /// Starts the command and waits until its port listens. Throws <see cref="ServerStartException"/> (with the
        /// server's output) when it exits first or does not listen within <paramref name="startTimeout"/>, having
        /// stopped whatever it started; <see cref="OperationCanceledException"/> when <paramref name="cancelled"/> turns true.
        /// </summary>
        internal static ServerProcess Start(string name, string commandTemplate, string workingDirectory, string outputFolder,
            string cpus, TimeSpan startTimeout, Func<bool> cancelled)
        {
            int port = FreePort();
            string command = commandTemplate.Replace("{port}", port.ToString(C));
            Directory.CreateDirectory(outputFolder);
            string safe = new string(name.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray());
            string output = Path.Combine(outputFolder, $"server-{safe}-{port}.log");
            string script = Path.Combine(outputFolder, $"server-{safe}-{port}.sh");
            var group = ServerCgroup.Create(name, out string whyNot);
            var sh = new StringBuilder();
            sh.Append("#!/bin/sh\n# Written by Measure-EchoServer: starts ").Append(name).Append(" in its cgroup, pinned, its output to a file.\n");
            sh.Append("exec > ").Append(Quote(output)).Append(" 2>&1 < /dev/null\n");
            if (group != null)
                sh.Append("echo $$ > ").Append(Quote(group.ProcsFile)).Append(" || exit 97\n");
            if (cpus != null)
                sh.Append("taskset -cp ").Append(cpus).Append(" $$ > /dev/null || exit 98\n"); // children inherit it
            // A simple command replaces this shell, so the server is the process started; shell syntax runs under it.
            sh.Append(IsSimple(command) ? "exec " : string.Empty).Append(command).Append('\n');
            File.WriteAllText(script, sh.ToString(), new UTF8Encoding(false));

            if (script.IndexOfAny(new[] { '"', '\\' }) >= 0)
                throw new ServerStartException($"{name}: the output folder's path cannot contain a double quote or a backslash: {outputFolder}", null);
            var info = new ProcessStartInfo("setsid", "/bin/sh \"" + script + "\"")
            {
                UseShellExecute = false,
                WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            };
            Process process;
            try
            {
                process = Process.Start(info);
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception || ex is InvalidOperationException)
            {
                group?.Remove();
                throw new ServerStartException($"{name}: setsid could not be started ({ex.Message}); the server needs Linux with util-linux.", null);
            }
            var server = new ServerProcess(process, port, command, cpus, group, output);
            if (group == null)
                server.Notes.Add($"No cgroup of its own ({whyNot}): its CPU time is read per thread (schedstat) and from reaped children (10 ms ticks).");
            try
            {
                var clock = Stopwatch.StartNew();
                while (!ProcFs.IsListening(port))
                {
                    if (cancelled())
                        throw new OperationCanceledException();
                    if (process.HasExited)
                        throw new ServerStartException(string.Format(C, "{0}: the server exited (exit code {1}) before listening on port {2}. Command: {3}. Its output: {4}",
                            name, process.ExitCode, port, command, Tail(output)), output);
                    if (clock.Elapsed > startTimeout)
                        throw new ServerStartException(string.Format(C, "{0}: the server did not listen on port {1} within {2:0.###} s (-StartTimeoutSec); stopped. Command: {3}. Its output: {4}",
                            name, port, startTimeout.TotalSeconds, command, Tail(output)), output);
                    Thread.Sleep(20);
                }
            }
            catch
            {
                server.Stop(TimeSpan.FromSeconds(2));
                throw;
            }
            return server;
        }

        /// <summary>Every process of the server's tree now: its cgroup's, its process group's and its descendants.</summary>
        internal List<int> TreeProcesses()
        {
            var pids = new HashSet<int>(ProcFs.Tree(_process.Id));
            if (Group != null)
                pids.UnionWith(Group.Processes());
            return pids.Where(p => !IsZombie(p)).ToList();
        }

        /// <summary>
        /// Ends every process the server started: TERM, then KILL after <paramref name="grace"/>; waits (bounded) until
        /// none is left and removes the cgroup. Safe to call more than once. Returns a note when something survived.
        /// </summary>
        internal string Stop(TimeSpan grace)
        {
            if (_stopped)
                return null;
            _stopped = true;
            Signal(ProcFs.SigTerm);
            var clock = Stopwatch.StartNew();
            while (Remaining().Count > 0 && clock.Elapsed < grace)
                Thread.Sleep(10);
            var left = Remaining();
            if (left.Count > 0)
            {
                Notes.Add(string.Format(C, "{0} process(es) did not end within {1:0.#} s of SIGTERM and were killed.", left.Count, grace.TotalSeconds));
                Signal(ProcFs.SigKill);
                clock.Restart();
                while (Remaining().Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(5))
                    Thread.Sleep(10);
            }
            try
            {
                _process.WaitForExit(1000);
            }
            catch (InvalidOperationException)
            {
            }
            left = Remaining();
            string note = left.Count > 0 ? $"Processes {string.Join(", ", left)} of the server survived SIGKILL." : null;
            if (Group != null && left.Count == 0 && !Group.Remove())
                note = $"The cgroup {Group.Path} could not be removed.";
            if (note != null)
                Notes.Add(note);
            _process.Dispose();
            return note;
        }

        /// <summary>Stops the server (2 s grace).</summary>
        public void Dispose() => Stop(TimeSpan.FromSeconds(2));

        private void Signal(int signal)
        {
            ProcFs.Kill(-_process.Id, signal); // the process group setsid made (ESRCH once it is empty)
            foreach (int pid in Remaining())
                ProcFs.Kill(pid, signal);
        }

        /// <summary>Live processes of the tree: the cgroup's, the process group's, and the leader's descendants.</summary>
        private List<int> Remaining()
        {
            var pids = new HashSet<int>(InProcessGroup(_process.Id));
            if (Group != null)
                pids.UnionWith(Group.Processes());
            pids.UnionWith(ProcFs.Tree(_process.Id));
            return pids.Where(p => Directory.Exists($"/proc/{p}") && !IsZombie(p)).ToList();
        }

        private static IEnumerable<int> InProcessGroup(int pgid)
        {
            string[] dirs;
            try
            {
                dirs = Directory.GetDirectories("/proc");
            }
            catch (IOException)
            {
                yield break;
            }
            string wanted = pgid.ToString(C);
            foreach (var dir in dirs)
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, C, out int pid))
                    continue;
                var f = ProcFs.StatFields(dir + "/stat");
                if (f != null && f.Length > 2 && f[2] == wanted)
                    yield return pid;
            }
        }

        private static bool IsZombie(int pid)
        {
            var f = ProcFs.StatFields($"/proc/{pid}/stat");
            return f == null || f[0] == "Z" || f[0] == "X";
        }

        /// <summary>True for a plain command line: no shell syntax (; &amp; | &lt; &gt; ( ) ` $) outside quotes, so "exec" may start it.</summary>
        internal static bool IsSimple(string command)
        {
            char quote = '\0';
            foreach (char ch in command)
            {
                if (quote != '\0')
                {
                    if (ch == quote)
                        quote = '\0';
                    else if (quote == '"' && (ch == '$' || ch == '`'))
                        return false; // expanded inside double quotes
                }
                else if (ch == '\'' || ch == '"')
                    quote = ch;
                else if (Array.IndexOf(ShellSyntax, ch) >= 0)
                    return false;
            }
            return quote == '\0';
        }

        /// <summary>The last lines of the server's output, for an error message.</summary>
        internal static string Tail(string path)
        {
            string text = ProcFs.Read(path);
            if (string.IsNullOrWhiteSpace(text))
                return "(none)";
            text = text.Trim();
            return text.Length <= 2000 ? text : "..." + text.Substring(text.Length - 2000);
        }

        /// <summary>A word in single quotes for sh: ' becomes '\''.</summary>
        internal static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
    }

    /// <summary>A server the measurer started did not come up; the message carries its output.</summary>
    public sealed class ServerStartException : Exception
    {
        /// <summary>Creates the exception.</summary>
        public ServerStartException(string message, string outputPath)
            : base(message)
        {
            OutputPath = outputPath;
        }

        /// <summary>The server's output file, or null.</summary>
        public string OutputPath { get; }
    }
}
