package org.abpn.app

import android.app.Service
import android.content.Intent
import android.os.Bundle
import android.os.Handler
import android.os.HandlerThread
import android.os.IBinder
import android.os.Message
import android.os.Messenger
import android.os.Process
import android.os.RemoteException
import android.util.Log

/**
 * Runs one accelerator's measurement in its own process (android:process=":accelerator", not
 * exported): a native crash in a GPU driver or FastRPC then kills this process only, and the main
 * process records that row as failed. Protocol (Messenger): the client sends [MSG_MEASURE] with an
 * [AcceleratorJob]; this answers [MSG_STARTED] with its pid at once, then [MSG_RESULT] with the row.
 * When the client unbinds, the process exits, so the next accelerator starts from a fresh process.
 */
class AcceleratorService : Service() {
    private lateinit var worker: HandlerThread
    private lateinit var messenger: Messenger

    override fun onCreate() {
        super.onCreate()
        worker = HandlerThread("abpn-accelerator").apply { start() }
        messenger = Messenger(Handler(worker.looper) { msg -> handle(msg); true })
    }

    override fun onBind(intent: Intent?): IBinder = messenger.binder

    private fun handle(msg: Message) {
        if (msg.what != MSG_MEASURE) return
        val reply = msg.replyTo ?: return
        val data = msg.data.apply { classLoader = AcceleratorJob::class.java.classLoader }
        @Suppress("DEPRECATION") val job = data.getSerializable(KEY_JOB) as AcceleratorJob
        send(reply, Message.obtain(null, MSG_STARTED, Process.myPid(), 0))
        val result = AcceleratorMeasurement(this, job).run()
        val answer = Message.obtain(null, MSG_RESULT)
        answer.data = Bundle().apply {
            putSerializable(KEY_RESULT, result)
            runCatching { Engines.factory.runtimeVersion() }.getOrNull()?.let { putString(KEY_RUNTIME_VERSION, it) }
        }
        send(reply, answer)
    }

    private fun send(to: Messenger, msg: Message) {
        try {
            to.send(msg)
        } catch (e: RemoteException) {
            Log.w(ResultFiles.TAG, "the benchmark's main process is gone", e)
        }
    }

    override fun onDestroy() {
        worker.quitSafely()
        super.onDestroy()
        // Only in the dedicated process: a fresh process per accelerator, no driver state carried over.
        if (DeviceProbe.processName(this).endsWith(PROCESS_SUFFIX)) Process.killProcess(Process.myPid())
    }

    companion object {
        const val MSG_MEASURE = 1
        const val MSG_STARTED = 2
        const val MSG_RESULT = 3
        const val KEY_JOB = "job"
        const val KEY_RESULT = "result"
        const val KEY_RUNTIME_VERSION = "runtime_version"
        const val PROCESS_SUFFIX = ":accelerator"
    }
}
