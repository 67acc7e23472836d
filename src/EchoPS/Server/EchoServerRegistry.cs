using System.Collections.Generic;
using System.Linq;

namespace EchoPS.Server
{
    /// <summary>The servers started in this process that have not ended yet.</summary>
    public static class EchoServerRegistry
    {
        private static readonly List<EchoServer> s_servers = new List<EchoServer>();

        /// <summary>Adds a started server.</summary>
        public static void Add(EchoServer server)
        {
            lock (s_servers)
                s_servers.Add(server);
        }

        /// <summary>The servers still running (listening, serving or stopping), in start order.</summary>
        public static IReadOnlyList<EchoServer> Running()
        {
            lock (s_servers)
            {
                // Ended servers drop out here, whoever stopped them.
                s_servers.RemoveAll(s => s.State == EchoServerState.Stopped || s.State == EchoServerState.Failed);
                return s_servers.ToList();
            }
        }
    }
}
