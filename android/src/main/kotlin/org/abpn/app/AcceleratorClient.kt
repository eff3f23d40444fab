package org.abpn.app

import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.ServiceConnection
import android.os.Bundle
import android.os.Handler
import android.os.HandlerThread
import android.os.IBinder
import android.os.Message
import android.os.Messenger
import android.os.Process
import android.os.RemoteException
import org.abpn.core.AcceleratorResult
import java.io.File
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/** How asking the accelerator process ended. */
sealed class Outcome {
    class Measured(val result: AcceleratorResult, val runtimeVersion: String?) : Outcome()

    /** The process died before answering; [pid] when it had said who it was. */
    class Died(val pid: Int?) : Outcome()

    /** No row within the accelerator's timeout: a hung driver or FastRPC call. Its process was killed when its pid was known. */
    class TimedOut(val reason: String) : Outcome()

    class NoAnswer(val reason: String) : Outcome()
}

/**
 * The main process's side of [AcceleratorService]: binds, sends one job, waits for the row or for
 * the process's death (onServiceDisconnected, onBindingDied, or the binder's death notice) or for
 * the timeout, then unbinds, which ends that process. A process that does not answer in time (a
 * stuck NNAPI driver or FastRPC call never returns) is killed by its pid. Called from the run's
 * background thread.
 *
 * BIND_IMPORTANT: without it AOSP's OomAdjuster caps a bound service's scheduling group at
 * SCHED_GROUP_DEFAULT (the foreground cpuset) whatever its client's; with it the service gets its
 * client's group, top-app for the visible benchmark activity (services/core/java/com/android/server/
 * am/OomAdjuster.java, computeServiceHostOomAdjLSP: "if ((cr.flags & Context.BIND_IMPORTANT) != 0)
 * schedGroup = clientSchedGroup"). Vendor cpusets and uclamp differ between the two groups.
 */
class AcceleratorClient(private val context: Context) {
    private sealed class Event {
        class Connected(val binder: IBinder?) : Event()
        object Disconnected : Event()
        class Started(val pid: Int) : Event()
        class Result(val data: Bundle) : Event()
    }

    fun measure(job: AcceleratorJob, timeoutMs: Long): Outcome {
        val events = LinkedBlockingQueue<Event>()
        val replies = HandlerThread("abpn-replies").apply { start() }
        val replyTo = Messenger(Handler(replies.looper) { msg ->
            when (msg.what) {
                AcceleratorService.MSG_STARTED -> events.add(Event.Started(msg.arg1))
                AcceleratorService.MSG_RESULT -> events.add(Event.Result(msg.data.apply { classLoader = AcceleratorJob::class.java.classLoader }))
            }
            true
        })
        val connection = object : ServiceConnection {
            override fun onServiceConnected(name: ComponentName?, service: IBinder?) { events.add(Event.Connected(service)) }
            override fun onServiceDisconnected(name: ComponentName?) { events.add(Event.Disconnected) }
            override fun onBindingDied(name: ComponentName?) { events.add(Event.Disconnected) }
            override fun onNullBinding(name: ComponentName?) { events.add(Event.Connected(null)) }
        }
        val intent = Intent(context, AcceleratorService::class.java)
        try {
            if (!context.bindService(intent, connection, BIND_FLAGS)) {
                context.unbindService(connection)
                return Outcome.NoAnswer("the accelerator service could not be bound")
            }
        } catch (e: SecurityException) {
            return Outcome.NoAnswer("the accelerator service could not be bound: $e")
        }
        var pid: Int? = null
        try {
            val deadline = System.currentTimeMillis() + timeoutMs
            while (true) {
                val left = deadline - System.currentTimeMillis()
                val e = (if (left > 0) events.poll(left, TimeUnit.MILLISECONDS) else null)
                    ?: return timedOut(pid, timeoutMs)
                when (e) {
                    is Event.Connected -> {
                        val binder = e.binder ?: return Outcome.NoAnswer("the accelerator service returned no binder")
                        try {
                            binder.linkToDeath({ events.add(Event.Disconnected) }, 0)
                            val msg = Message.obtain(null, AcceleratorService.MSG_MEASURE)
                            msg.replyTo = replyTo
                            msg.data = Bundle().apply { putSerializable(AcceleratorService.KEY_JOB, job) }
                            Messenger(binder).send(msg)
                        } catch (x: RemoteException) {
                            return Outcome.Died(pid)
                        }
                    }
                    is Event.Started -> pid = e.pid
                    is Event.Disconnected -> {
                        pid = pid ?: lateStart(events)
                        return Outcome.Died(pid)
                    }
                    is Event.Result -> {
                        @Suppress("DEPRECATION") val r = e.data.getSerializable(AcceleratorService.KEY_RESULT) as AcceleratorResult
                        return Outcome.Measured(r, e.data.getString(AcceleratorService.KEY_RUNTIME_VERSION))
                    }
                }
            }
        } finally {
            runCatching { context.unbindService(connection) }
            replies.quitSafely()
            pid?.let { awaitExit(it) }
        }
    }

    private fun timedOut(pid: Int?, timeoutMs: Long): Outcome {
        val s = timeoutMs / 1000
        if (pid == null || pid == Process.myPid()) {
            return Outcome.TimedOut("timed out after $s s (the accelerator's process never said its pid and was not killed)")
        }
        // Same uid: an app may kill its own processes. A process stuck in a driver call ignores everything else.
        Process.killProcess(pid)
        return Outcome.TimedOut("timed out after $s s (the accelerator's process was killed)")
    }

    /**
     * The process's "started" reply and the notice of its death travel separately (a reply through its
     * Handler, the death straight from a binder thread): a process that died at once may still have
     * its pid on the way.
     */
    private fun lateStart(events: LinkedBlockingQueue<Event>): Int? {
        val until = System.currentTimeMillis() + LATE_START_MS
        while (true) {
            val left = until - System.currentTimeMillis()
            if (left <= 0) return null
            val e = events.poll(left, TimeUnit.MILLISECONDS) ?: return null
            if (e is Event.Started) return e.pid
        }
    }

    /** The next accelerator must not be bound to a process that is still on its way out. */
    private fun awaitExit(pid: Int) {
        if (pid == Process.myPid()) return
        val until = System.currentTimeMillis() + 5000
        while (File("/proc/$pid").exists() && System.currentTimeMillis() < until) Thread.sleep(50)
    }

    companion object {
        const val BIND_FLAGS = Context.BIND_AUTO_CREATE or Context.BIND_IMPORTANT
        private const val LATE_START_MS = 1000L
    }
}
