using System.Management.Automation;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>
    /// <para type="synopsis">Gets the echo servers running in this PowerShell process.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "BlockingEchoServer", DefaultParameterSetName = AllSet)]
    [OutputType(typeof(BlockingEchoServer))]
    public sealed class GetBlockingEchoServerCommand : PSCmdlet
    {
        private const string AllSet = "All";
        private const string IdSet = "Id";
        private const string PortSet = "Port";

        /// <summary>Gets only the servers with these ids.</summary>
        [Parameter(Mandatory = true, ParameterSetName = IdSet)]
        [Alias("ServerId")]
        [WholeNumber]
        [ArgumentCompleter(typeof(Completion.RunningServerIdCompleter))]
        public int[] Id { get; set; }

        /// <summary>Gets only the servers listening on these ports.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = PortSet)]
        [WholeNumber]
        [ValidateRange(0, 65535)]
        [ArgumentCompleter(typeof(Completion.RunningServerPortCompleter))]
        public int[] Port { get; set; }

        /// <inheritdoc />
        protected override void BeginProcessing() => SessionTypeData.EnsureLoaded(this);

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            WriteObject(ServerSelector.Select(this, Id, Port), enumerateCollection: true);
        }
    }
}
