using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>
    /// The bridge from the C ABI's completion callbacks to tasks, driven with completions made
    /// here (what the native library sends, at the moments a test needs): a value that arrives
    /// after the token cancelled the task is handed back to be freed, never lost.
    /// </summary>
    [TestFixture]
    public class NativeTaskTests
    {
        /// <summary>A fake <c>*_async</c> entry point that keeps the callback for the test to call.</summary>
        private sealed class FakeCall
        {
            public NativeTask.CompletionCallback Callback;
            public IntPtr UserData;
            public uint Result;

            public uint Start(NativeTask.CompletionCallback callback, IntPtr userData, out NativeTask.Handle task)
            {
                Callback = callback;
                UserData = userData;
                task = new NativeTask.Handle();
                return Result;
            }

            /// <summary>Calls the callback as the native completion thread would.</summary>
            public void Complete(uint result, bool cancelled, string code, string message, IntPtr value)
            {
                var strings = new[] { code, message };
                var native = new IntPtr[2];
                var completion = Marshal.AllocHGlobal(Marshal.SizeOf(typeof(NativeTask.RawCompletion)));
                try
                {
                    for (var i = 0; i < 2; i++)
                    {
                        native[i] = strings[i] == null ? IntPtr.Zero : Marshal.StringToHGlobalAnsi(strings[i]);
                    }
                    var raw = new NativeTask.RawCompletion
                    {
                        Result = result,
                        Cancelled = cancelled ? (byte)1 : (byte)0,
                        Code = native[0],
                        Message = native[1],
                        Value = value,
                    };
                    Marshal.StructureToPtr(raw, completion, false);
                    var t = new Thread(() => Callback(UserData, completion));
                    t.Start();
                    t.Join();
                }
                finally
                {
                    Marshal.FreeHGlobal(completion);
                    foreach (var p in native)
                    {
                        if (p != IntPtr.Zero)
                        {
                            Marshal.FreeHGlobal(p);
                        }
                    }
                }
            }
        }

        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

        [Test]
        public void ASuccessDeliversTheValue()
        {
            var call = new FakeCall();
            IntPtr orphaned = IntPtr.Zero;
            bool? delivered = null;
            var task = NativeTask.Run(call.Start, CancellationToken.None, p => orphaned = p, d => delivered = d);
            Assert.IsFalse(task.IsCompleted);
            call.Complete(0, false, null, null, (IntPtr)0x1234);
            Assert.IsTrue(task.Wait(Timeout));
            Assert.AreEqual((IntPtr)0x1234, task.Result);
            Assert.AreEqual(IntPtr.Zero, orphaned);
            Assert.AreEqual(true, delivered);
        }

        [Test]
        public void AValueAfterCancellationIsHandedBackToBeFreed()
        {
            var call = new FakeCall();
            IntPtr orphaned = IntPtr.Zero;
            bool? delivered = null;
            using (var cts = new CancellationTokenSource())
            {
                var task = NativeTask.Run(call.Start, cts.Token, p => orphaned = p, d => delivered = d);
                cts.Cancel();
                Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout));
                Assert.IsTrue(task.IsCanceled, "cancelled at once, before the native side answers");
                Assert.IsNull(delivered, "the callback has not come: the rotation GCHandle must stay");
                // The native work had finished before it saw the cancel: its identity arrives.
                call.Complete(0, false, null, null, (IntPtr)0x5678);
                Assert.AreEqual((IntPtr)0x5678, orphaned, "released, not leaked");
                Assert.AreEqual(false, delivered);
            }
        }

        [Test]
        public void AFailureIsAMeshTlsExceptionWithTheNativeCode()
        {
            var call = new FakeCall();
            var task = NativeTask.Run(call.Start, CancellationToken.None, null, null);
            call.Complete((uint)ErrorCode.ServiceError, false, "token_used", "token_used: the token was used already (CA service, HTTP 409)", IntPtr.Zero);
            var e = Assert.Throws<AggregateException>(() => task.Wait(Timeout)).InnerException as MeshTlsException;
            Assert.IsNotNull(e);
            Assert.AreEqual(ErrorCode.ServiceError, e.Code);
            Assert.AreEqual("token_used", e.CodeName);
            StringAssert.StartsWith("token_used: ", e.Message);
        }

        [Test]
        public void ANativeCancellationCancelsTheTask()
        {
            var call = new FakeCall();
            bool? delivered = null;
            var task = NativeTask.Run(call.Start, CancellationToken.None, null, d => delivered = d);
            call.Complete((uint)ErrorCode.Transport, true, "cancelled", "cancelled: the call was cancelled before it ended", IntPtr.Zero);
            Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout));
            Assert.IsTrue(task.IsCanceled);
            Assert.AreEqual(false, delivered);
        }

        [Test]
        public void ARefusalBeforeStartingThrowsAndReleases()
        {
            var call = new FakeCall { Result = (uint)ErrorCode.NullArgument };
            bool? delivered = null;
            Assert.Throws<MeshTlsException>(() => NativeTask.Run(call.Start, CancellationToken.None, null, d => delivered = d));
            Assert.AreEqual(false, delivered, "no callback will come: released at once");
            using (var cts = new CancellationTokenSource())
            {
                cts.Cancel();
                var started = false;
                var task = NativeTask.Run((NativeTask.CompletionCallback c, IntPtr u, out NativeTask.Handle t) =>
                {
                    started = true;
                    t = new NativeTask.Handle();
                    return 0;
                }, cts.Token, null, null);
                Assert.IsTrue(task.IsCanceled);
                Assert.IsFalse(started, "an already cancelled token starts nothing");
            }
        }
    }
}
