# The benchmark as data (build/Bench.ps1 reads it): plans, tools, servers, placements and targets.
# Every figure comes from Measure-EchoServer, which starts, observes, traces and stops the servers below (command targets);
# the bench adds allocation, stop-latency and import extras and judges the targets below from what it returned.
@{
    # Sizes: the issue's for a full run, small ones for a smoke run (-Quick).
    Plans = @{
        Full = @{
            Rounds = 5; Count = 20000; StreamSec = 1; ConnectionCount = 2000; SlotClients = 8; HoldMs = 20
            CapacityConnections = 1000; CapacityWaitSec = 3
            Sweep = @(4096, 16384, 65536, 262144, 1048576); SweepRounds = 3
            OverheadRounds = 5; OverheadCapacity = 10000
            TraceEchoes = 10000; TraceConns = 1000; PerfEchoes = 20000
            ImportRuns = 7; StopRepeats = 5; AllocEchoes = 20000; AllocConns = 1000; AllocMiB = 128; AllocRepeats = 3
            # The load figure (pinned placement): clients at once per step, each step's time in seconds.
            LoadClients = @(1, 10, 100); LoadSec = 0.5
            ColdBurstConnections = 2000; ColdBurstRounds = 5
        }
        Quick = @{
            Rounds = 2; Count = 2000; StreamSec = 0.25; ConnectionCount = 200; SlotClients = 3; HoldMs = 20
            CapacityConnections = 100; CapacityWaitSec = 1
            Sweep = @(4096, 65536); SweepRounds = 1
            OverheadRounds = 1; OverheadCapacity = 1000
            TraceEchoes = 1000; TraceConns = 100; PerfEchoes = 2000
            ImportRuns = 1; StopRepeats = 1; AllocEchoes = 5000; AllocConns = 200; AllocMiB = 16; AllocRepeats = 1
            LoadClients = @(1, 4); LoadSec = 0.2
            ColdBurstConnections = 200; ColdBurstRounds = 1
        }
    }

    # Tools (command -> Debian package). Without a required one the bench cannot run; without an optional one it
    # skips the parts named, saying so.
    RequiredTools = @{ gcc = 'gcc'; taskset = 'util-linux' }
    OptionalTools = @{
        socat = @{ Package = 'socat'; Parts = 'the socat server' }
        strace = @{ Package = 'strace'; Parts = 'syscalls per echo and per connection' }
        perf = @{ Package = 'linux-perf'; Parts = 'perf stat per connection' }
        python3 = @{ Package = 'python3'; Parts = "the capacity probe's 10,000 connections (the asyncio peer)" }
    }

    # The servers measured side by side, in this order (C first: the baseline). Kind: how Bench.ps1 starts it.
    # Buffer 65536 makes the C server's buffer EchoPS's default, so the stream compares equal buffer sizes.
    Servers = @(
        @{ Name = 'C'; Kind = 'C'; Buffer = 65536 }
        @{ Name = 'socat'; Kind = 'socat'; Tool = 'socat' }
        @{ Name = 'EchoPS'; Kind = 'EchoPS'; Events = 'Formatted' }
        @{ Name = 'EchoPS job'; Kind = 'EchoPS'; Events = 'Job' }
        # A thread per client (tests/pester/peers), measured pinned only: beside the blocking servers, the load
        # figure's round trips/s rise with clients instead of all but one client starving.
        @{ Name = 'threads'; Kind = 'Peer'; Source = 'tests/pester/peers/thread_server.c'; Placements = @('pinned') }
    )

    # Each placement is one Measure-EchoServer call over every server. Pinned (server and measurer on one CPU)
    # measures code paths: the targets are judged on it. Unpinned shows what the scheduler adds.
    Placements = @(
        @{ Name = 'pinned'; Pinned = $true; Figures = @('RoundTrip', 'Stream', 'Connections', 'Slots', 'Capacity', 'Load'); Path = '.' }
        @{ Name = 'unpinned'; Pinned = $false; Figures = @('RoundTrip', 'Stream', 'Connections'); Path = 'unpinned' }
    )

    # The targets. Value: a path into the run object (Pinned.Results.<server>.<property> is Measure-EchoServer's result for
    # that server in the pinned placement). Test: le or ge against Goal; none: measured, no goal.
    Targets = @(
        @{ Target = 'Connections/s, engine alone (EchoPS -AsJob) vs C'; Value = 'Pinned.Results.EchoPS job.ConnectionsRatio'; Test = 'ge'; Goal = 1.0 }
        @{ Target = 'Connections/s, foreground as users run it (events formatted) vs C'; Value = 'Pinned.Results.EchoPS.ConnectionsRatio'; Test = 'ge'; Goal = 0.95 }
        @{ Target = 'Server syscalls per connection vs C (strace -f -c), EchoPS -AsJob'; Value = 'SyscallSummary.ConnectionRatio'; Test = 'le'; Goal = 1.0 }
        @{ Target = 'Server syscalls per connection vs C, EchoPS foreground (its event rows written too)'; Value = 'SyscallSummary.ForegroundConnectionRatio'; Test = 'none' }
        @{ Target = 'Round trip p50 vs C'; Value = 'Pinned.Results.EchoPS.RttP50Ratio'; Test = 'le'; Goal = 1.03 }
        @{ Target = 'Round trip p99 vs C'; Value = 'Pinned.Results.EchoPS.RttP99Ratio'; Test = 'le'; Goal = 1.10 }
        @{ Target = 'Stream vs C, both 64 KiB buffers'; Value = 'Pinned.Results.EchoPS.StreamRatio'; Test = 'ge'; Goal = 1.0 }
        @{ Target = 'Measurer round trip p50 vs the compiled C client, same server'; Value = 'Overhead.RttP50Ratio'; Test = 'le'; Goal = 1.10 }
        @{ Target = 'Measurer stream vs the compiled C client, same server'; Value = 'Overhead.StreamRatio'; Test = 'ge'; Goal = 0.9 }
        @{ Target = 'Capacity probe: connections held and echoed (asyncio peer)'; Value = 'Overhead.CapacityEchoed'; Test = 'ge'; Goal = 'Plan.OverheadCapacity' }
        @{ Target = 'Heap bytes per echo, steady state (EchoPS)'; Value = 'Allocations.bytes_per_echo'; Test = 'le'; Goal = 1 }
        @{ Target = 'Heap bytes per connection (EchoPS)'; Value = 'Allocations.bytes_per_connection'; Test = 'none' }
        @{ Target = 'Stop latency, worst state and route (ms)'; Value = 'Stop.WorstMs'; Test = 'le'; Goal = 100 }
        @{ Target = 'Import-Module EchoPS, own cost (ms)'; Value = 'Import.OwnMs'; Test = 'le'; Goal = 30 }
        @{ Target = 'Import-Module EchoPS, first import of a session (ms)'; Value = 'Import.ColdMs'; Test = 'le'; Goal = 50 }
        @{ Target = 'Connections/s, cold first burst (fresh pwsh, foreground, events formatted) vs C with its log lines'; Value = 'ColdBurst.Ratio'; Test = 'ge'; Goal = 0.9 }
    )
}
