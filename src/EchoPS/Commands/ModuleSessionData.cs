using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace EchoPS.Commands
{
    /// <summary>
    /// The module's type data (EchoPS.Types.ps1xml: how its objects serialize) and format views (EchoPS.Format.ps1xml),
    /// added to a session by its first EchoPS command instead of by Import-Module.
    /// </summary>
    /// <remarks>
    /// Measured (issue 22): a manifest's TypesToProcess and FormatsToProcess cost about 25 ms each at import, mostly
    /// fixed (a one-view file costs the same as the module's 15 views), because PowerShell rebuilds its type table and
    /// its whole format database; every <c>pwsh -c</c>, job and remoting session that imports the module paid them.
    /// Every live EchoPS object comes from an EchoPS command, so loading both there serves every view and every
    /// serialization; the format database is built once either way (by the first output shown). The type data is read
    /// from the file here and added as <see cref="TypeData"/> (Update-TypeData -TypeData touches only those types;
    /// Update-TypeData -AppendPath would reprocess every type file of the session, which costs far more).
    /// </remarks>
    internal static class ModuleSessionData
    {
        internal const string TypesFile = "EchoPS.Types.ps1xml";
        internal const string FormatFile = "EchoPS.Format.ps1xml";

        // The runspaces (sessions) that have the data: one entry each, dropped with the runspace.
        private static readonly ConditionalWeakTable<Runspace, object> Loaded = new ConditionalWeakTable<Runspace, object>();

        /// <summary>Adds the type data and views to the command's session, once per session. Never fails the command.</summary>
        internal static void EnsureLoaded(PSCmdlet command)
        {
            Runspace runspace = Runspace.DefaultRunspace;
            if (runspace == null || Loaded.TryGetValue(runspace, out _))
                return;
            lock (Loaded)
            {
                if (Loaded.TryGetValue(runspace, out _))
                    return;
                Loaded.Add(runspace, null);
            }
            try
            {
                string folder = command.MyInvocation.MyCommand.Module?.ModuleBase
                    ?? Path.GetDirectoryName(typeof(ModuleSessionData).Assembly.Location);
                using (var shell = PowerShell.Create(RunspaceMode.CurrentRunspace))
                {
                    string types = Path.Combine(folder, TypesFile);
                    if (File.Exists(types))
                        shell.AddCommand(@"Microsoft.PowerShell.Utility\Update-TypeData").AddParameter("TypeData", ReadTypeData(types).ToArray()).AddParameter("Force");
                    string views = Path.Combine(folder, FormatFile);
                    if (File.Exists(views))
                        shell.AddStatement().AddCommand(@"Microsoft.PowerShell.Utility\Update-FormatData").AddParameter("AppendPath", views);
                    if (shell.Commands.Commands.Count > 0)
                        shell.Invoke();
                    foreach (ErrorRecord error in shell.Streams.Error)
                        command.WriteVerbose("EchoPS views or type data not loaded: " + error);
                }
            }
            catch (Exception e) when (!(e is PipelineStoppedException))
            {
                // A session that forbids format updates (a constrained endpoint) still runs the commands, with PowerShell's
                // default formatting.
                command.WriteVerbose("EchoPS views or type data not loaded: " + e.Message);
            }
        }

        /// <summary>
        /// The entries of a types file in the forms EchoPS.Types.ps1xml uses: PSStandardMembers notes
        /// (SerializationMethod, SerializationDepth, InheritPropertySerializationSet) and the PropertySerializationSet.
        /// Anything else in the file is an error, so that an entry added in another form is not silently ignored.
        /// </summary>
        internal static IEnumerable<TypeData> ReadTypeData(string path)
        {
            foreach (XElement type in XDocument.Load(path).Root.Elements("Type"))
            {
                var data = new TypeData(((string)type.Element("Name")).Trim());
                var members = type.Element("Members")?.Elements() ?? Enumerable.Empty<XElement>();
                foreach (XElement set in members)
                {
                    if (set.Name != "MemberSet" || (string)set.Element("Name") != "PSStandardMembers")
                        throw new FormatException($"{path}: {data.TypeName}: only PSStandardMembers entries are read at run time, not {set.Name} {(string)set.Element("Name")}.");
                    foreach (XElement member in set.Element("Members").Elements())
                        Apply(data, member, path);
                }
                yield return data;
            }
        }

        private static void Apply(TypeData data, XElement member, string path)
        {
            string name = ((string)member.Element("Name"))?.Trim();
            if (member.Name == "NoteProperty")
            {
                string value = ((string)member.Element("Value"))?.Trim();
                switch (name)
                {
                    case "SerializationMethod": data.SerializationMethod = value; return;
                    case "SerializationDepth": data.SerializationDepth = uint.Parse(value, System.Globalization.CultureInfo.InvariantCulture); return;
                    case "InheritPropertySerializationSet": data.InheritPropertySerializationSet = bool.Parse(value); return;
                }
            }
            else if (member.Name == "PropertySet" && name == "PropertySerializationSet")
            {
                data.PropertySerializationSet = new PropertySetData(member.Element("ReferencedProperties").Elements("Name").Select(p => p.Value.Trim()).ToArray());
                return;
            }
            throw new FormatException($"{path}: {data.TypeName}: the run-time reader does not know {member.Name} {name}.");
        }
    }
}
