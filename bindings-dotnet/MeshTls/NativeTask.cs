using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Win32.SafeHandles;

// The tests drive the completion bridge with completions of their own (NativeTaskTests).
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("MeshTls.Tests")]

namespace MeshTls
{
    /// <summary>
    /// Marks a method the native library calls back, for ahead-of-time compiled Mono (found by
    /// its name, as Xamarin's own attribute is). Harmless elsewhere.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type delegateType)
        {
            DelegateType = delegateType;
        }

        public Type DelegateType { get; }
    }

    /// <summary>
    /// The bridge from the C ABI's asynchronous calls (<c>*_async</c>, a completion callback
    /// called exactly once on a native thread) to a <see cref="Task"/>: the callback completes
    /// a <see cref="TaskCompletionSource{T}"/> (continuations run on the thread pool, never on
    /// the native thread), and a <see cref="CancellationToken"/> cancels the native work.
    /// </summary>
    internal static class NativeTask
    {
        /// <summary>The C <c>meshtls_completion_callback</c>.</summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void CompletionCallback(IntPtr userData, IntPtr completion);

        /// <summary>An <c>*_async</c> entry point, with the callback and user data bound.</summary>
        internal delegate uint Start(CompletionCallback callback, IntPtr userData, out Handle task);

        /// <summary>One static delegate for every call, so the GC never collects it.</summary>
        private static readonly CompletionCallback Callback = OnComplete;

        /// <summary>
        /// Starts a native call and returns its outcome: the value (an owned native pointer, or
        /// <see cref="IntPtr.Zero"/>) on success, a <see cref="MeshTlsException"/> on failure,
        /// a cancelled task when <paramref name="cancellationToken"/> fires first. A value that
        /// arrives after the task was cancelled goes to <paramref name="orphan"/> (to be freed);
        /// <paramref name="finished"/> runs once no callback can come any more, told whether a
        /// value reached the task.
        /// </summary>
        internal static Task<IntPtr> Run(Start start, CancellationToken cancellationToken, Action<IntPtr> orphan, Action<bool> finished)
        {
            var pending = new Pending(orphan, finished);
            if (cancellationToken.IsCancellationRequested)
            {
                pending.Finish(false);
                pending.Source.TrySetCanceled(cancellationToken);
                return pending.Source.Task;
            }
            var self = GCHandle.Alloc(pending);
            Handle task;
            uint result;
            try
            {
                result = start(Callback, GCHandle.ToIntPtr(self), out task);
            }
            catch
            {
                self.Free();
                pending.Finish(false);
                throw;
            }
            if (result != 0)
            {
                // The native side refused before starting: no callback will come.
                self.Free();
                pending.Finish(false);
                task.Dispose();
                MeshTlsException.Check(result);
            }
            pending.Attach(task, cancellationToken);
            return pending.Source.Task;
        }

        [MonoPInvokeCallback(typeof(CompletionCallback))]
        private static void OnComplete(IntPtr userData, IntPtr completion)
        {
            // Runs on a native thread: nothing may escape.
            try
            {
                var self = GCHandle.FromIntPtr(userData);
                var pending = (Pending)self.Target;
                self.Free();
                var raw = (RawCompletion)Marshal.PtrToStructure(completion, typeof(RawCompletion));
                pending.Complete(raw);
            }
            catch (Exception)
            {
                // Nothing can be reported to the native side; the task stays as it was.
            }
        }

        /// <summary>The state of one call, reached through a GCHandle passed as the user data.</summary>
        private sealed class Pending
        {
            private readonly object gate = new object();
            private readonly Action<IntPtr> orphan;
            private Action<bool> finished;
            private Handle task;
            private CancellationTokenRegistration registration;

            internal Pending(Action<IntPtr> orphan, Action<bool> finished)
            {
                this.orphan = orphan;
                this.finished = finished;
            }

            internal TaskCompletionSource<IntPtr> Source { get; } =
                new TaskCompletionSource<IntPtr>(TaskCreationOptions.RunContinuationsAsynchronously);

            internal void Attach(Handle handle, CancellationToken cancellationToken)
            {
                lock (gate)
                {
                    task = handle;
                    if (Source.Task.IsCompleted)
                    {
                        // The callback came first: the task handle is no longer needed.
                        task.Dispose();
                        return;
                    }
                }
                if (cancellationToken.CanBeCanceled)
                {
                    var r = cancellationToken.Register(() => Cancel(cancellationToken));
                    lock (gate)
                    {
                        if (Source.Task.IsCompleted && !Source.Task.IsCanceled)
                        {
                            r.Dispose();
                        }
                        else
                        {
                            registration = r;
                        }
                    }
                }
            }

            private void Cancel(CancellationToken cancellationToken)
            {
                // The task is cancelled now; the native work is told to stop, and whatever it
                // still delivers is released when the callback comes.
                Source.TrySetCanceled(cancellationToken);
                lock (gate)
                {
                    if (task != null && !task.IsClosed)
                    {
                        try
                        {
                            Native.meshtls_task_cancel(task);
                        }
                        catch (ObjectDisposedException)
                        {
                        }
                    }
                }
            }

            internal void Complete(RawCompletion raw)
            {
                lock (gate)
                {
                    task?.Dispose();
                }
                registration.Dispose();
                var delivered = false;
                if (raw.Cancelled != 0)
                {
                    Source.TrySetCanceled();
                }
                else if (raw.Result != 0)
                {
                    var code = NativeBuffer.StringAt(raw.Code);
                    var message = NativeBuffer.StringAt(raw.Message) ?? "meshtls failed without a message";
                    Source.TrySetException(new MeshTlsException((ErrorCode)raw.Result, code, message));
                }
                else if (Source.TrySetResult(raw.Value))
                {
                    delivered = true;
                }
                else if (raw.Value != IntPtr.Zero)
                {
                    // Cancelled by the token while the value was on its way: nobody will take it.
                    orphan?.Invoke(raw.Value);
                }
                Finish(delivered);
            }

            internal void Finish(bool delivered)
            {
                var f = Interlocked.Exchange(ref finished, null);
                f?.Invoke(delivered);
            }
        }

        /// <summary>The C <c>meshtls_completion</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct RawCompletion
        {
            public uint Result;
            public byte Cancelled;
            public IntPtr Code;
            public IntPtr Message;
            public IntPtr Value;
        }

        /// <summary>A native <c>meshtls_task*</c>, freed with <c>meshtls_task_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_task_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern void meshtls_task_cancel(Handle task);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_task_free(IntPtr task);
        }
    }
}
