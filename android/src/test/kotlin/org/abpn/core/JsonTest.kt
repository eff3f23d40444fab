package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class JsonTest {
    @Test fun escapesQuotesBackslashesAndControlCharacters() {
        assertEquals("\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\"", Json.encode("a\"b\\c\n\t\r\b\u000C\u0001\u001F"))
    }

    @Test fun keepsNonAsciiAndEscapesLineSeparators() {
        assertEquals("\"°C ü 雪 \\u2028\"", Json.encode("°C ü 雪 \u2028"))
    }

    @Test fun writesNestedStructuresInInsertionOrder() {
        val v = linkedMapOf("z" to 1, "a" to listOf(true, null, 2.5, "x"), "m" to linkedMapOf<String, Any?>())
        assertEquals("{\"z\":1,\"a\":[true,null,2.5,\"x\"],\"m\":{}}", Json.encode(v))
    }

    @Test fun writesWholeDoublesWithoutFraction() {
        assertEquals("[3,-0.125,1.0E-7,1.0E20]", Json.encode(listOf(3.0, -0.125, 1e-7, 1e20)))
    }

    @Test fun refusesNaN() {
        assertThrows(IllegalArgumentException::class.java) { Json.encode(Double.NaN) }
    }
}
