using System.IO;
using System.Linq;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>
    /// The engine knows nothing of PowerShell: only the PowerShell layer (cmdlets, the job, argument completers) may use
    /// System.Management.Automation. Every other namespace of EchoPS.dll is engine, including new ones, so a new
    /// engine folder is checked without being listed here; a new PowerShell-facing namespace must be added below.
    /// </summary>
    public class EngineIsolationTests
    {
        internal static readonly string[] PowerShellLayer = { "EchoPS.Commands", "EchoPS.Jobs", "EchoPS.Completion", "EchoPS.Errors" };

        private static readonly string EchoPSPath = typeof(EchoServerOptions).Assembly.Location;

        [Fact]
        public void No_engine_type_uses_System_Management_Automation_or_the_PowerShell_layer()
        {
            var uses = PowerShellReferenceScanner.Scan(EchoPSPath, PowerShellLayer);
            Assert.True(uses.Count == 0, "The engine must not touch PowerShell; found:\n" + string.Join("\n", uses));
        }

        [Fact]
        public void The_check_covers_the_engine_namespaces()
        {
            var engine = PowerShellReferenceScanner.EngineTypes(EchoPSPath, PowerShellLayer);
            foreach (var type in new[]
            {
                "EchoPS.Server.EchoServer", "EchoPS.Server.BlockingEchoServer", "EchoPS.Server.EchoListener",
                "EchoPS.Server.Sessions.EchoSession", "EchoPS.Server.Sessions.SessionRules", "EchoPS.Server.Sessions.Admission",
                "EchoPS.Net.SocketErrors", "EchoPS.Net.SocketTimeouts", "EchoPS.Net.InvariantFormat", "EchoPS.Net.SocketSet",
                "EchoPS.Client.EchoClient", "EchoPS.LockDown.AddressRange", "EchoPS.Addressing",
            })
                Assert.Contains(type, engine);
            Assert.DoesNotContain(engine, t => t.StartsWith("EchoPS.Commands.", System.StringComparison.Ordinal));
            Assert.DoesNotContain(engine, t => t.StartsWith("EchoPS.Errors.", System.StringComparison.Ordinal));
        }

        [Fact]
        public void The_check_sees_the_PowerShell_layers_own_uses_of_PowerShell()
        {
            // With no layer exempted, the cmdlets' uses must show up: the scanner can see what it looks for.
            var uses = PowerShellReferenceScanner.Scan(EchoPSPath);
            Assert.Contains(uses, u => u.StartsWith("EchoPS.Commands.StartBlockingEchoServerCommand: its base type uses System.Management.Automation.PSCmdlet", System.StringComparison.Ordinal));
            Assert.Contains(uses, u => u.StartsWith("EchoPS.Jobs.EchoServerJob: its base type uses System.Management.Automation.Job", System.StringComparison.Ordinal));
            // A use inside a method body only (the job wraps each event in a PSObject), not in any signature.
            Assert.Contains(uses, u => u.StartsWith("EchoPS.Jobs.", System.StringComparison.Ordinal) && u.EndsWith("() uses System.Management.Automation.PSObject", System.StringComparison.Ordinal));
        }

        [Fact]
        public void The_engine_assembly_is_built_without_shipping_PowerShell_beside_it()
        {
            // PowerShellStandard.Library is a private, compile-only reference: the tests run without it.
            Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(EchoPSPath), PowerShellReferenceScanner.PowerShellAssembly + ".dll")));
            Assert.DoesNotContain(System.AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == PowerShellReferenceScanner.PowerShellAssembly);
        }

        /// <summary>The dependency picture of docs/design.md, where it says "does not use": checked on the built assembly.</summary>
        [Theory]
        [InlineData("EchoPS.Client", "EchoPS.Server")]
        [InlineData("EchoPS.Server", "EchoPS.Client")]
        [InlineData("EchoPS.Jobs", "EchoPS.Commands")]
        [InlineData("EchoPS.Net", "EchoPS.Server")]
        [InlineData("EchoPS.Net", "EchoPS.Client")]
        [InlineData("EchoPS.Net", "EchoPS.Measure")]
        public void A_part_does_not_use_another(string user, string used)
        {
            // The scanner lists every use of the namespace given by a type outside it; only the user's are kept.
            var uses = PowerShellReferenceScanner.Scan(EchoPSPath, used)
                .Where(u => u.StartsWith(user + ".", System.StringComparison.Ordinal) && u.Contains(" uses " + used + "."))
                .ToList();
            Assert.True(uses.Count == 0, $"{user} must not use {used}; found:\n" + string.Join("\n", uses));
        }

        [Fact]
        public void The_dependency_check_sees_a_use_where_there_is_one()
        {
            Assert.Contains(PowerShellReferenceScanner.Scan(EchoPSPath, "EchoPS.Server"),
                u => u.StartsWith("EchoPS.Jobs.", System.StringComparison.Ordinal) && u.Contains(" uses EchoPS.Server."));
        }
    }
}
