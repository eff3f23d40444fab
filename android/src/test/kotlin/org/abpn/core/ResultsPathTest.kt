package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

class ResultsPathTest {
    private val id = "0f8c2a4e-1b2c-4d5e-8f90-123456789abc"

    @Test fun theThreePaths() {
        assertEquals(ResultsPath.State(id), ResultsPath.parse(listOf("runs", id)))
        assertEquals(ResultsPath.Record(id), ResultsPath.parse(listOf("runs", "$id.json")))
        assertEquals(ResultsPath.Error(id), ResultsPath.parse(listOf("runs", "$id.error.json")))
        assertEquals("$id.error.json", ResultsPath.Error(id).fileName)
    }

    @Test fun nothingElse() {
        assertNull(ResultsPath.parse(listOf("runs")))
        assertNull(ResultsPath.parse(listOf("files", "$id.json")))
        assertNull(ResultsPath.parse(listOf("runs", "..")))
        assertNull(ResultsPath.parse(listOf("runs", "../x.json")))
        assertNull(ResultsPath.parse(listOf("runs", "a.b.json")))
        assertNull(ResultsPath.parse(listOf("runs", id, "x")))
    }
}
