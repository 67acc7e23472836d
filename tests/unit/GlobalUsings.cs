// The namespaces every test file uses.
global using System;
global using FsCheck;
global using FsCheck.Fluent;
global using FsCheck.Xunit;
global using Xunit;
