package org.abpn.app

import android.app.Activity
import android.content.ComponentName
import android.content.Intent
import android.content.IntentFilter
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.os.Looper
import android.provider.MediaStore
import android.view.View
import android.view.ViewGroup
import android.view.WindowInsets
import android.widget.Button
import android.widget.ProgressBar
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.TextView
import org.abpn.core.Accelerator
import org.junit.After
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import java.io.ByteArrayOutputStream
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * DemoActivity on Android 15's framework code: real intents, lifecycle, content resolver, ImageDecoder
 * and bitmaps (native graphics), real threads. Only the inference engine is a double.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
@GraphicsMode(GraphicsMode.Mode.NATIVE)
class DemoActivityTest {
    private lateinit var engines: CrossNearestEngines

    @Before
    fun setUp() {
        Robolectric.setupContentProvider(TestPhotos::class.java, TestPhotos.AUTHORITY)
    }

    @After
    fun restoreEngine() {
        Engines.factory = TfliteEngines
    }

    @Test
    fun photoFromThePickerIsUpscaledTileByTileWithProgressAndShownCropped() {
        // Holds the second tile until the test has looked at the progress bar mid-run.
        val (paused, resume) = holdTheSecondTile()
        val activity = startDemo()

        click(activity, "Pick a photo")
        val picker = shadowOf(activity).nextStartedActivityForResult
        assertEquals(MediaStore.ACTION_PICK_IMAGES, picker.intent.action)
        shadowOf(activity).receiveResult(picker.intent, Activity.RESULT_OK, Intent().setData(TestPhotos.uri("pattern_1000x500.png")))

        assertTrue("the engine never ran", paused.await(30, TimeUnit.SECONDS))
        shadowOf(Looper.getMainLooper()).idle()
        val bar = progressBar(activity)
        assertEquals(View.VISIBLE, bar.visibility)
        assertEquals(4, bar.max)
        assertEquals(1, bar.progress)
        assertEquals("Upscaling 1000x500 on cpu…", status(activity).text.toString())
        assertFalse(button(activity, "Pick a photo").isEnabled)
        resume.countDown()

        awaitUpscale(activity)
        assertTrue(status(activity).text.startsWith("1000x500 → 3000x1500 on cpu in "))
        assertEquals(View.INVISIBLE, bar.visibility)
        assertEquals(4, bar.progress)

        // The host's tiling rule (axis_spans in abpn's tiling module) for a 1000x500 photo and 640x360 tiles
        // overlapping by 7: columns start at 0 and 360, rows at 0 and 140, row by row.
        val photo = decodeResource("pattern_1000x500.png")
        val engine = engines.created.single()
        assertTrue("the engine was not closed", engine.closed)
        assertEquals(4, engine.inputs.size)
        val origins = listOf(0 to 0, 360 to 0, 0 to 140, 360 to 140)
        for ((i, o) in origins.withIndex()) {
            assertArrayEquals("tile $i should start at $o", rgbTile(photo, o.first, o.second), engine.inputs[i])
        }

        // The comparison shows the centre crop: 360x360 LR pixels of the input, the same area of the output.
        val view = only<BeforeAfterView>(activity)
        val before = view.before!!
        val after = view.after!!
        assertEquals(360 to 360, before.width to before.height)
        assertEquals(1080 to 1080, after.width to after.height)
        val expected = CrossNearestEngine.reference(pixels(photo), photo.width, photo.height)
        val lx = (1000 - 360) / 2
        val ly = (500 - 360) / 2
        assertArrayEquals(crop(expected, 3000, lx * 3, ly * 3, 1080, 1080), pixels(after))
        assertArrayEquals(pixels(Bitmap.createBitmap(photo, lx, ly, 360, 360)), pixels(before))
    }

    @Test
    fun upscaleOfPhotosLargerAndSmallerThanATileEqualsTheFunctionOnTheWholePhoto() {
        engines = CrossNearestEngines()
        Engines.factory = engines
        val context = RuntimeEnvironment.getApplication()
        for (photo in listOf(decodeResource("pattern_1000x500.png"), Bitmap.createBitmap(decodeResource("pattern_1000x500.png"), 17, 9, 301, 203))) {
            val steps = ArrayList<Pair<Int, Int>>()
            val out = PhotoUpscaler(context).upscale(photo, Accelerator.CPU, 2) { done, total -> steps.add(done to total) }
            assertEquals(photo.width * 3 to photo.height * 3, out.width to out.height)
            // Pixel for pixel: every seam between tiles lies where the function sees only real neighbours.
            assertArrayEquals(CrossNearestEngine.reference(pixels(photo), photo.width, photo.height), pixels(out))
            val tiles = if (photo.width > 640) 4 else 1
            assertEquals((1..tiles).map { it to tiles }, steps)
        }
    }

    /** The bundled model has int8 I/O: the demo feeds it pixel - 128 and shows the same pixels as through uint8 I/O. */
    @Test
    fun anInt8IoModelGivesTheSamePixelsAndIsFedPixelMinus128() {
        engines = CrossNearestEngines(int8 = true)
        Engines.factory = engines
        val photo = decodeResource("pattern_1000x500.png")
        val out = PhotoUpscaler(RuntimeEnvironment.getApplication()).upscale(photo, Accelerator.CPU, 2) { _, _ -> }
        assertArrayEquals(CrossNearestEngine.reference(pixels(photo), photo.width, photo.height), pixels(out))
        val firstTile = engines.created.single().inputs.first()
        val expected = rgbTile(photo, 0, 0)
        assertArrayEquals(ByteArray(expected.size) { (expected[it].toInt() xor 0x80).toByte() }, firstTile)
    }

    // insertStatements/updateStatements are deprecated in favour of registering a ContentProvider,
    // but the MediaStore provider is a system app Robolectric does not have; these record what the
    // framework's resolver was asked, which is what this test checks.
    @Suppress("DEPRECATION")
    @Test
    fun resultIsSavedThroughMediaStoreAsAJpegOfTheOutputSize() {
        engines = CrossNearestEngines()
        Engines.factory = engines
        val activity = startDemo()
        upscaleThroughThePicker(activity, "pattern_1000x500.png")
        val resolver = shadowOf(activity.contentResolver)
        val jpeg = ByteArrayOutputStream()
        // No MediaProvider runs under Robolectric: its resolver records the insert and hands out the stream.
        val item = MediaStore.Images.Media.EXTERNAL_CONTENT_URI.buildUpon().appendPath("1").build()
        resolver.registerOutputStream(item, jpeg)

        click(activity, "Save to gallery")
        assertFalse(button(activity, "Save to gallery").isEnabled)
        idleUntil(activity, "the save") { button(activity, "Save to gallery").isEnabled }
        assertEquals("Saved to the gallery: $item", status(activity).text.toString())
        val insert = resolver.insertStatements.single()
        assertEquals(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, insert.uri)
        assertEquals("image/jpeg", insert.contentValues.getAsString(MediaStore.Images.Media.MIME_TYPE))
        assertEquals("Pictures/ABPN", insert.contentValues.getAsString(MediaStore.Images.Media.RELATIVE_PATH))
        assertEquals(1, insert.contentValues.getAsInteger(MediaStore.Images.Media.IS_PENDING))
        assertTrue(insert.contentValues.getAsString(MediaStore.Images.Media.DISPLAY_NAME).endsWith(".jpg"))
        val publish = resolver.updateStatements.single()
        assertEquals(item, publish.uri)
        assertEquals(0, publish.contentValues.getAsInteger(MediaStore.Images.Media.IS_PENDING))

        val bytes = jpeg.toByteArray()
        val options = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        BitmapFactory.decodeByteArray(bytes, 0, bytes.size, options)
        assertEquals("image/jpeg", options.outMimeType)
        assertEquals(3000 to 1500, options.outWidth to options.outHeight)
        // JPEG is lossy: the saved picture is the output within a few levels, not some other image.
        val saved = pixels(BitmapFactory.decodeByteArray(bytes, 0, bytes.size))
        val photo = decodeResource("pattern_1000x500.png")
        val expected = CrossNearestEngine.reference(pixels(photo), photo.width, photo.height)
        assertTrue("saved JPEG differs from the output", meanAbsDiff(saved, expected) < 4.0)
    }

    @Test
    fun controlsAreLaidOutInsideTheSystemBarsOnAndroid15() {
        // Robolectric's default window has no system bars; give it a phone's status and navigation bars.
        val systemUi = Class.forName("org.robolectric.shadows.SystemUi")
        val ui = systemUi.getDeclaredMethod("systemUiForDefaultDisplay").apply { isAccessible = true }.invoke(null)
        val statusBar = systemUi.getDeclaredField("STANDARD_STATUS_BAR").apply { isAccessible = true }.get(null)
        val navigation = systemUi.getDeclaredField("GESTURAL_NAVIGATION").apply { isAccessible = true }.get(null)
        systemUi.declaredMethods.single { it.name == "setBehavior" }.apply { isAccessible = true }.invoke(ui, statusBar, navigation)
        Engines.factory = CrossNearestEngines()
        val activity = startDemo()
        assertEquals(35, activity.applicationInfo.targetSdkVersion)

        val decor = activity.window.decorView
        val bars = decor.rootWindowInsets.getInsets(WindowInsets.Type.systemBars())
        assertTrue("no status bar inset: the check would prove nothing ($bars)", bars.top > 0 && bars.bottom > 0)
        for (v in listOf(button(activity, "Pick a photo"), only<BeforeAfterView>(activity), only<SeekBar>(activity))) {
            val at = IntArray(2).also { v.getLocationInWindow(it) }
            assertTrue("${v.javaClass.simpleName} top ${at[1]} is under the status bar (${bars.top})", at[1] >= bars.top)
            assertTrue(
                "${v.javaClass.simpleName} bottom ${at[1] + v.height} is under the navigation bar (${decor.height - bars.bottom})",
                at[1] + v.height <= decor.height - bars.bottom,
            )
        }
        assertTrue(only<BeforeAfterView>(activity).height > 0)
    }

    @Test
    fun phoneWithoutThePhotoPickerFallsBackToGetContent() {
        Engines.factory = CrossNearestEngines()
        val activity = startDemo()
        // Starting an activity nothing resolves now throws, as on a phone.
        shadowOf(RuntimeEnvironment.getApplication()).checkActivities(true)

        click(activity, "Pick a photo")
        assertEquals("No app on this phone can pick a photo.", status(activity).text.toString())

        val gallery = ComponentName("com.example.gallery", "com.example.gallery.PickActivity")
        val pm = shadowOf(activity.packageManager)
        pm.addActivityIfNotPresent(gallery)
        pm.addIntentFilterForActivity(gallery, IntentFilter(Intent.ACTION_GET_CONTENT).apply {
            addCategory(Intent.CATEGORY_DEFAULT); addCategory(Intent.CATEGORY_OPENABLE); addDataType("image/*")
        })
        click(activity, "Pick a photo")
        val started = shadowOf(activity).nextStartedActivityForResult
        assertNotNull("nothing was started", started)
        assertEquals(Intent.ACTION_GET_CONTENT, started.intent.action)
        assertEquals("image/*", started.intent.type)
        assertTrue(started.intent.hasCategory(Intent.CATEGORY_OPENABLE))

        shadowOf(activity).receiveResult(started.intent, Activity.RESULT_OK, Intent().setData(TestPhotos.uri("pattern_1000x500.png")))
        awaitUpscale(activity)
    }

    @Test
    fun corruptPhotoGivesAMessageAndTheAppStaysUsable() {
        Engines.factory = CrossNearestEngines()
        val activity = startDemo()
        pickThroughThePicker(activity, "truncated.jpg")
        idleUntil(activity, "the decode error") { button(activity, "Pick a photo").isEnabled }
        assertTrue(status(activity).text.toString(), status(activity).text.startsWith("Cannot read this photo: "))
        assertFalse(button(activity, "Save to gallery").isEnabled)
        assertEquals(View.INVISIBLE, progressBar(activity).visibility)
        assertTrue(engines().created.isEmpty())

        upscaleThroughThePicker(activity, "pattern_1000x500.png")
    }

    @Test
    fun photoAboveTheSizeLimitIsReducedAndTheUserIsTold() {
        Engines.factory = CrossNearestEngines()
        val activity = startDemo()
        upscaleThroughThePicker(activity, "gradient_3000x2000.png")
        // 36 MP of output at most: 3000x2000 -> 2449x1632 (TilePlan.fitInput, aspect kept).
        assertTrue(
            status(activity).text.toString(),
            status(activity).text.startsWith("2449x1632 → 7347x4896 on cpu in ") &&
                status(activity).text.contains("(reduced from 3000x2000 to keep the output within the limit)"),
        )
        assertEquals(20, engines().created.single().inputs.size)
    }

    @Test
    fun acceleratorTheEngineCannotOfferGivesAMessage() {
        Engines.factory = CrossNearestEngines(unavailable = mapOf(Accelerator.GPU to "no OpenCL on this phone"))
        val activity = startDemo()
        val spinner = only<Spinner>(activity)
        spinner.setSelection((0 until spinner.count).single { spinner.getItemAtPosition(it) == "gpu" })
        pickThroughThePicker(activity, "pattern_1000x500.png")
        idleUntil(activity, "the failure") { button(activity, "Pick a photo").isEnabled }
        assertEquals("Upscaling failed: gpu is not available: no OpenCL on this phone", status(activity).text.toString())
        assertFalse(button(activity, "Save to gallery").isEnabled)
    }

    @Test
    fun aUiModeChangeMidUpscaleHandsTheUpscaleToTheNewScreenAndAllowsNoSecondOne() {
        val (controller, resume) = upscaleHeldAtTheSecondTile()
        val first = controller.get()

        // Dark theme switched on: uiMode is not in the manifest's configChanges, so the activity is recreated.
        val night = android.content.res.Configuration(first.resources.configuration)
        night.uiMode = (night.uiMode and android.content.res.Configuration.UI_MODE_NIGHT_MASK.inv()) or android.content.res.Configuration.UI_MODE_NIGHT_YES
        controller.configurationChange(night)
        val second = controller.get()
        assertTrue("not recreated", second !== first)
        shadowOf(Looper.getMainLooper()).idle()
        // The new screen shows the same upscale and offers no second one.
        assertFalse(button(second, "Pick a photo").isEnabled)
        assertEquals("Upscaling 1000x500 on cpu…", status(second).text.toString())
        assertEquals(View.VISIBLE, progressBar(second).visibility)
        resume.countDown()
        awaitUpscale(second)
        assertTrue(status(second).text.startsWith("1000x500 → 3000x1500 on cpu in "))
        assertEquals(1, engines.created.size)
        assertEquals(4, engines.created.single().inputs.size)
    }

    @Test
    fun leavingTheDemoMidUpscaleStopsItAndClosesTheEngine() {
        val (controller, resume) = upscaleHeldAtTheSecondTile()
        val activity = controller.get()
        activity.finish()
        controller.pause().stop().destroy()
        resume.countDown()
        val engine = engines.created.single()
        val end = System.currentTimeMillis() + 30_000
        while (!engine.closed && System.currentTimeMillis() < end) Thread.sleep(10)
        assertTrue("the engine was not closed", engine.closed)
        // Stopped after the tile in progress, not all four.
        assertEquals(2, engine.inputs.size)
    }

    @Test
    fun theAndroid8DecoderAppliesExifOrientationAndReachesTheLimitInOneDecode() {
        val photo = decodeResource("pattern_1000x500.png")
        val file = java.io.File(RuntimeEnvironment.getApplication().cacheDir, "rotated.jpg")
        file.outputStream().use { photo.compress(Bitmap.CompressFormat.JPEG, 95, it) }
        android.media.ExifInterface(file.path).apply {
            setAttribute(android.media.ExifInterface.TAG_ORIENTATION, android.media.ExifInterface.ORIENTATION_ROTATE_90.toString())
            saveAttributes()
        }
        val upright = PhotoDecoder.withBitmapFactory { file.inputStream() }
        // Shown the way the camera held it: 500 wide, 1000 high, the photo's left column now on top.
        assertEquals(500 to 1000, upright.bitmap.width to upright.bitmap.height)
        assertEquals(Bitmap.Config.ARGB_8888, upright.bitmap.config)
        val expected = photo.getPixel(0, photo.height - 1)
        val got = upright.bitmap.getPixel(0, 0)
        for (shift in listOf(16, 8, 0)) {
            assertTrue("%08x vs %08x".format(got, expected), Math.abs((got shr shift and 0xff) - (expected shr shift and 0xff)) < 24)
        }

        val big = PhotoDecoder.withBitmapFactory { javaClass.getResourceAsStream("/photos/gradient_3000x2000.png")!! }
        assertEquals(2449 to 1632, big.bitmap.width to big.bitmap.height)
        assertTrue(big.note!!, big.note!!.contains("reduced from 3000x2000"))
    }

    // --- helpers ---------------------------------------------------------------------------------

    private fun engines() = Engines.factory as CrossNearestEngines

    /** Engines that hold the second tile: the first latch opens when they reach it, the second lets them go on. */
    private fun holdTheSecondTile(): Pair<CountDownLatch, CountDownLatch> {
        val paused = CountDownLatch(1)
        val resume = CountDownLatch(1)
        engines = CrossNearestEngines(beforeRun = { done -> if (done == 1) { paused.countDown(); resume.await(30, TimeUnit.SECONDS) } })
        Engines.factory = engines
        return paused to resume
    }

    /** A demo screen upscaling a photo, held at its second tile until the returned latch is counted down. */
    private fun upscaleHeldAtTheSecondTile(): Pair<ActivityController<DemoActivity>, CountDownLatch> {
        val (paused, resume) = holdTheSecondTile()
        val controller = Robolectric.buildActivity(DemoActivity::class.java).setup()
        val activity = controller.get()
        idleUntil(activity, "the default accelerator") { status(activity).text.startsWith("Default: ") }
        pickThroughThePicker(activity, "pattern_1000x500.png")
        assertTrue("the engine never ran", paused.await(30, TimeUnit.SECONDS))
        return controller to resume
    }

    private fun startDemo(): DemoActivity {
        val activity = Robolectric.buildActivity(DemoActivity::class.java).setup().get()
        // The default accelerator is chosen on a background thread from past benchmark results.
        idleUntil(activity, "the default accelerator") { status(activity).text.startsWith("Default: ") }
        assertTrue(button(activity, "Pick a photo").isEnabled)
        return activity
    }

    private fun pickThroughThePicker(activity: DemoActivity, photo: String) {
        click(activity, "Pick a photo")
        val picker = shadowOf(activity).nextStartedActivityForResult
        assertEquals(MediaStore.ACTION_PICK_IMAGES, picker.intent.action)
        shadowOf(activity).receiveResult(picker.intent, Activity.RESULT_OK, Intent().setData(TestPhotos.uri(photo)))
    }

    private fun upscaleThroughThePicker(activity: DemoActivity, photo: String) {
        pickThroughThePicker(activity, photo)
        awaitUpscale(activity)
    }

    /** Pick is disabled while a photo is processed; once it is back, saving must be possible. */
    private fun awaitUpscale(activity: DemoActivity) {
        assertFalse("no upscale started", button(activity, "Pick a photo").isEnabled)
        idleUntil(activity, "the upscale") { button(activity, "Pick a photo").isEnabled }
        assertTrue(status(activity).text.toString(), button(activity, "Save to gallery").isEnabled)
    }

    private fun idleUntil(activity: DemoActivity, what: String, timeoutS: Long = 60, done: () -> Boolean) {
        val end = System.nanoTime() + timeoutS * 1_000_000_000
        while (true) {
            shadowOf(Looper.getMainLooper()).idle()
            if (done()) return
            check(System.nanoTime() < end) { "timed out waiting for $what; status: ${status(activity).text}" }
            Thread.sleep(5)
        }
    }

    private fun click(activity: DemoActivity, text: String) {
        assertTrue(button(activity, text).performClick())
        shadowOf(Looper.getMainLooper()).idle()
    }

    private fun button(activity: DemoActivity, text: String) = all<Button>(activity).single { it.text == text }

    /** The progress bar (the comparison slider is a ProgressBar too). */
    private fun progressBar(activity: DemoActivity) = all<ProgressBar>(activity).single { it !is SeekBar }

    /** The status line: the content's one plain TextView (buttons are TextViews too). */
    private fun status(activity: DemoActivity) = all<TextView>(activity).single { it.javaClass == TextView::class.java }

    private inline fun <reified T : View> only(activity: DemoActivity): T = all<T>(activity).single()

    /** Views of the activity's content (the window's action bar has a TextView of its own). */
    private inline fun <reified T : View> all(activity: DemoActivity): List<T> =
        tree(activity.findViewById<View>(android.R.id.content)!!).filterIsInstance<T>()

    private fun tree(v: View): List<View> =
        listOf(v) + if (v is ViewGroup) (0 until v.childCount).flatMap { tree(v.getChildAt(it)) } else emptyList()

    private fun decodeResource(name: String): Bitmap {
        val bytes = javaClass.getResourceAsStream("/photos/$name")!!.use { it.readBytes() }
        val bitmap = BitmapFactory.decodeByteArray(bytes, 0, bytes.size)
        return bitmap.copy(Bitmap.Config.ARGB_8888, false)
    }

    private fun pixels(b: Bitmap) = IntArray(b.width * b.height).also { b.getPixels(it, 0, b.width, 0, 0, b.width, b.height) }

    /** The model's input tile at (x, y): packed RGB bytes, row by row. */
    private fun rgbTile(photo: Bitmap, x: Int, y: Int): ByteArray {
        val argb = IntArray(640 * 360).also { photo.getPixels(it, 0, 640, x, y, 640, 360) }
        val rgb = ByteArray(argb.size * 3)
        for (i in argb.indices) {
            rgb[i * 3] = (argb[i] shr 16).toByte(); rgb[i * 3 + 1] = (argb[i] shr 8).toByte(); rgb[i * 3 + 2] = argb[i].toByte()
        }
        return rgb
    }

    private fun crop(argb: IntArray, width: Int, x: Int, y: Int, w: Int, h: Int) =
        IntArray(w * h) { i -> argb[(y + i / w) * width + x + i % w] }

    private fun meanAbsDiff(a: IntArray, b: IntArray): Double {
        assertEquals(a.size, b.size)
        var sum = 0L
        for (i in a.indices) for (shift in intArrayOf(16, 8, 0)) sum += Math.abs((a[i] shr shift and 0xFF) - (b[i] shr shift and 0xFF))
        return sum.toDouble() / (a.size * 3)
    }
}
