package org.abpn.core

import com.sun.net.httpserver.HttpServer
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.net.InetSocketAddress
import java.net.ServerSocket

class ResultDeliveryTest {
    @get:Rule val tmp = TemporaryFolder()
    private var server: HttpServer? = null

    @After fun stop() { server?.stop(0) }

    @Test fun writesAtomicallyAndReplaces() {
        val dir = tmp.newFolder("results")
        ResultDelivery.writeAtomically(dir, "r.json", "{\"a\":1}")
        val f = ResultDelivery.writeAtomically(dir, "r.json", "{\"a\":\"é\"}")
        assertEquals("{\"a\":\"é\"}", f.readText())
        assertEquals(listOf("r.json"), dir.list()!!.toList())
    }

    /** A real HTTP server on localhost standing in for the collector's POST /api/records. */
    private fun collector(status: Int, seen: MutableList<Triple<String, String?, String>>): String {
        val s = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        s.createContext("/") { ex ->
            val body = ex.requestBody.readBytes().toString(Charsets.UTF_8)
            seen.add(Triple("${ex.requestMethod} ${ex.requestURI.path}", ex.requestHeaders.getFirst("Authorization"), body))
            val answer = "{\"stored\":true}".toByteArray()
            ex.sendResponseHeaders(status, answer.size.toLong())
            ex.responseBody.use { it.write(answer) }
        }
        s.start()
        server = s
        return "http://127.0.0.1:${s.address.port}/"
    }

    @Test fun postsJsonWithBearerToken() {
        val seen = mutableListOf<Triple<String, String?, String>>()
        val json = SampleRecords.ok().toJson()
        val posted = ResultDelivery.post(collector(201, seen), "s3cret", json)
        assertTrue(posted.accepted)
        assertEquals(Triple("POST /api/records", "Bearer s3cret", json), seen.single())
    }

    @Test fun reportsARefusal() {
        val seen = mutableListOf<Triple<String, String?, String>>()
        val posted = ResultDelivery.post(collector(401, seen), null, "{}")
        assertFalse(posted.accepted)
        assertEquals(401, posted.status)
        assertEquals(null, seen.single().second)
    }

    @Test fun aMalformedUrlOrTokenIsNotAnException() {
        // The record file is already written when the app posts; an exception here would add an error file.
        assertEquals(0, ResultDelivery.post("http://[::1", null, "{}").status)
        val seen = mutableListOf<Triple<String, String?, String>>()
        assertEquals(0, ResultDelivery.post(collector(201, seen), "a\nb", "{}").status)
        assertTrue(seen.isEmpty())
    }

    @Test fun anUnreachableCollectorIsNotAnException() {
        val port = ServerSocket(0).use { it.localPort } // closed again: nothing listens there
        val posted = ResultDelivery.post("http://127.0.0.1:$port", "t", "{}", timeoutMs = 2000)
        assertEquals(0, posted.status)
        assertTrue(posted.message, posted.message.startsWith("cannot reach"))
    }
}
