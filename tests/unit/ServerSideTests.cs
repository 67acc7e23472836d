using System.Linq;
using EchoPS.Measure;

namespace EchoPS.Tests
{
    /// <summary>The server side's pure parts: CPU lists, strace's table, a figure's cost between two snapshots, command targets.</summary>
    public class ServerSideTests
    {
        [Theory]
        [InlineData("1", new[] { 1 })]
        [InlineData("0-2,5", new[] { 0, 1, 2, 5 })]
        [InlineData(" 3 , 1 ", new[] { 1, 3 })]
        public void Cpu_lists_parse_as_taskset_takes_them(string text, int[] cpus)
        {
            Assert.Equal(cpus, ProcFs.ParseCpuList(text));
            Assert.Equal(cpus, ProcFs.ParseCpuList(ProcFs.FormatCpuList(cpus)));
        }

        [Theory]
        [InlineData("one")]
        [InlineData("2-1")]
        [InlineData("1-2-3")]
        [InlineData("")]
        [InlineData("-1")]
        public void Anything_else_is_not_a_cpu_list(string text) => Assert.Null(ProcFs.ParseCpuList(text));

        [Fact]
        public void Strace_summary_rows_parse_with_and_without_errors_and_the_total_is_left_out()
        {
            var lines = new[]
            {
                "% time     seconds  usecs/call     calls    errors syscall",
                "------ ----------- ----------- --------- --------- ----------------",
                " 40.00    0.004000          40       100           clone",
                " 30.00    0.003000          15       200        37 accept",
                "------ ----------- ----------- --------- --------- ----------------",
                "100.00    0.010000          33       300        37 total",
            };
            var rows = SyscallTrace.ParseStrace(lines).ToArray();
            Assert.Equal(2, rows.Length);
            Assert.Equal(("clone", 100L, 0L), (rows[0].Syscall, rows[0].Calls, rows[0].Errors));
            Assert.Equal(("accept", 200L, 37L), (rows[1].Syscall, rows[1].Calls, rows[1].Errors));
        }

        [Fact]
        public void A_figure_costs_the_difference_per_operation()
        {
            var before = Snapshot(1000, 10, 5, 100, 1, 2);
            var after = Snapshot(3000, 30, 5, 300, 1, 2);
            var cost = ServerSide.Between(MeasureFigure.Connections, before, after, 100);
            Assert.Equal(20, cost.CpuUsPerOp);
            Assert.Equal(0.2, cost.VoluntarySwitchesPerOp);
            Assert.Equal(0, cost.InvoluntarySwitchesPerOp);
            Assert.Equal(2, cost.FaultsPerOp);
            Assert.Null(cost.Note);
        }

        [Fact]
        public void Switches_are_not_observed_when_tasks_ended_during_the_figure_and_cpu_not_observed_is_null_not_zero()
        {
            var before = Snapshot(null, 10, 5, 100, 1, 2, 3);
            var after = Snapshot(null, 30, 5, 300, 1, 2);
            var cost = ServerSide.Between(MeasureFigure.Connections, before, after, 100);
            Assert.Null(cost.CpuUsPerOp);
            Assert.Null(cost.VoluntarySwitchesPerOp);
            Assert.Contains("CPU not observed", cost.Note);
            Assert.Contains("context switches not observed", cost.Note);
        }

        [Fact]
        public void A_command_target_needs_its_port_placeholder()
        {
            var t = MeasureTarget.ForCommand(null, "./fork_server {port}");
            Assert.Equal("fork_server", t.Name);
            Assert.Equal("./fork_server {port}", t.Command);
            Assert.Throws<System.ArgumentException>(() => MeasureTarget.ForCommand("x", "./fork_server 9000"));
        }

        [Theory]
        [InlineData("./fork_server 9000", true)]
        [InlineData("'/opt/pwsh' -Command \"Import-Module 'a.psd1'; Start-BlockingEchoServer -Port 9000\"", true)]
        [InlineData("socat TCP-LISTEN:9000,fork PIPE", true)]
        [InlineData("cd /srv && ./server 9000", false)]
        [InlineData("./server 9000 > log", false)]
        [InlineData("sh -c \"echo $HOME\"", false)]
        [InlineData("./server 'unclosed", false)]
        public void Only_a_plain_command_line_is_started_with_exec(string command, bool simple) =>
            Assert.Equal(simple, ServerProcess.IsSimple(command));

        private static ServerSnapshot Snapshot(double? cpu, long voluntary, long involuntary, long faults, params int[] tasks)
        {
            var s = new ServerSnapshot { CpuUs = cpu, CpuMicrosecondResolution = true, VoluntarySwitches = voluntary, InvoluntarySwitches = involuntary, Faults = faults, Processes = 1, Tasks = tasks.Length };
            foreach (var t in tasks)
                s.TaskIds.Add(t);
            return s;
        }
    }
}
