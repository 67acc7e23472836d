using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using EchoPS.Errors;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>Finds running servers by -Id or -Port, reporting each value that matches none.</summary>
    internal static class ServerSelector
    {
        internal static IEnumerable<EchoServer> Select(PSCmdlet cmdlet, int[] ids, int[] ports)
        {
            var running = EchoServerRegistry.Running();
            if (ids != null)
                return Match(cmdlet, running, ids, s => s.Id, "id");
            if (ports != null)
                return Match(cmdlet, running, ports, s => s.Port, "port");
            return running;
        }

        private static List<EchoServer> Match(PSCmdlet cmdlet, IReadOnlyList<EchoServer> running,
            int[] wanted, System.Func<EchoServer, int> key, string what)
        {
            var found = new List<EchoServer>();
            foreach (var value in wanted)
            {
                var matches = running.Where(s => key(s) == value).ToList();
                if (matches.Count == 0)
                    cmdlet.WriteError(EchoErrors.ServerNotFound(
                        $"No running echo server has {what} {value}. Get-BlockingEchoServer lists the running ones.", value));
                found.AddRange(matches.Where(s => !found.Contains(s)));
            }
            return found;
        }
    }
}
