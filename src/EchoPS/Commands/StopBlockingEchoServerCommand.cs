using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using EchoPS.Errors;
using EchoPS.Jobs;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>
    /// <para type="synopsis">Stops running echo servers, closing their client and freeing their port.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "BlockingEchoServer", SupportsShouldProcess = true, DefaultParameterSetName = PortSet)]
    [OutputType(typeof(BlockingEchoServer))]
    public sealed class StopBlockingEchoServerCommand : PSCmdlet
    {
        private const string IdSet = "Id";
        private const string PortSet = "Port";
        private const string InputSet = "InputObject";
        private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

        /// <summary>Stops the servers listening on these ports.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = PortSet)]
        [WholeNumber]
        [ValidateRange(0, 65535)]
        [ArgumentCompleter(typeof(Completion.RunningServerPortCompleter))]
        public int[] Port { get; set; }

        /// <summary>Stops the servers with these ids.</summary>
        [Parameter(Mandatory = true, ParameterSetName = IdSet)]
        [Alias("ServerId")]
        [WholeNumber]
        [ArgumentCompleter(typeof(Completion.RunningServerIdCompleter))]
        public int[] Id { get; set; }

        /// <summary>Servers from Get-BlockingEchoServer, or jobs from Start-BlockingEchoServer -AsJob.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
        public PSObject[] InputObject { get; set; }

        /// <summary>Returns each stopped server with its final counters.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <inheritdoc />
        protected override void BeginProcessing() => SessionTypeData.EnsureLoaded(this);

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            foreach (var server in Targets())
            {
                if (!ShouldProcess($"server {server.Id} on {server.LocalEndPoint}", "Stop blocking echo server"))
                    continue;
                WriteVerbose($"Stopping server {server.Id} on {server.LocalEndPoint} ({server.State}).");
                if (!server.Stop(StopWait))
                    WriteError(EchoErrors.StopTimedOut(server));
                else if (PassThru)
                    WriteObject(server);
            }
        }

        private IEnumerable<EchoServer> Targets()
        {
            if (ParameterSetName != InputSet)
                return ServerSelector.Select(this, Id, Port);

            var servers = new List<EchoServer>();
            foreach (var item in InputObject)
            {
                var server = item?.BaseObject as EchoServer ?? (item?.BaseObject as EchoServerJob)?.Server;
                if (server != null)
                {
                    // The same answer as -Port or -Id give for a server that is not running.
                    if (server.State == EchoServerState.Stopped || server.State == EchoServerState.Failed)
                        WriteError(EchoErrors.ServerNotFound(
                            $"Server {server.Id} on {server.LocalEndPoint} is not running ({server.State}): there is nothing to stop.", server.Id));
                    else
                        servers.Add(server);
                    continue;
                }
                // Any other object binds by property name, as -Port and -Id (alias ServerId) would. A server that
                // came back deserialized (from a job or remoting) names its id "Id". With both an id and a port,
                // both must match: an id alone from another process could name another server here.
                bool isServer = item != null && item.TypeNames.Any(t => t.EndsWith(typeof(EchoServer).FullName, StringComparison.Ordinal));
                var serverId = NumberProperty(item, isServer ? "Id" : "ServerId");
                var port = NumberProperty(item, "Port");
                if (serverId != null && port != null)
                {
                    var match = EchoServerRegistry.Running().Where(s => s.Id == serverId && s.Port == port).ToList();
                    if (match.Count == 0)
                        WriteError(EchoErrors.ServerNotFound(
                            $"No running echo server has id {serverId} and port {port}. Get-BlockingEchoServer lists the running ones.", serverId));
                    servers.AddRange(match);
                }
                else if (serverId != null)
                    servers.AddRange(ServerSelector.Select(this, new[] { serverId.Value }, null));
                else if (port != null)
                    servers.AddRange(ServerSelector.Select(this, null, new[] { port.Value }));
                else
                    WriteError(EchoErrors.NotAServer(item));
            }
            return servers;
        }

        private static int? NumberProperty(PSObject item, string name)
        {
            var value = item?.Properties[name]?.Value;
            if (value == null)
                return null;
            return LanguagePrimitives.TryConvertTo(value, out int number) && Convert.ToString(number, System.Globalization.CultureInfo.InvariantCulture) == Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)
                ? number
                : (int?)null;
        }
    }
}
