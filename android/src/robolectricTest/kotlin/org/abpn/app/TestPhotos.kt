package org.abpn.app

import android.content.ContentProvider
import android.content.ContentValues
import android.content.res.AssetFileDescriptor
import android.database.Cursor
import android.net.Uri
import android.os.Bundle
import android.os.ParcelFileDescriptor
import java.io.File
import java.io.FileNotFoundException

/**
 * Serves the images of src/robolectricTest/resources/photos under content:// URIs, as the photo
 * picker's provider serves a user's photo, through a real file descriptor.
 *
 * It refuses typed descriptors: Robolectric's native ImageDecoder cannot decode from a file
 * descriptor on a desktop ("Only supported on Android" in android-all's libandroid_runtime), and
 * ImageDecoder's ContentResolverSource answers a refusal with its documented fallback, an
 * InputStream from the same provider ("Some images cannot be opened as AssetFileDescriptors").
 * The descriptor path itself is therefore exercised on phones only.
 */
class TestPhotos : ContentProvider() {
    override fun onCreate() = true

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor {
        val name = uri.lastPathSegment ?: throw FileNotFoundException("$uri")
        val bytes = TestPhotos::class.java.getResourceAsStream("/photos/$name")?.use { it.readBytes() }
            ?: throw FileNotFoundException("no test photo $name")
        val file = File(context!!.cacheDir, "photo-$name").apply { writeBytes(bytes) }
        return ParcelFileDescriptor.open(file, ParcelFileDescriptor.MODE_READ_ONLY)
    }

    // ImageDecoder asks for image types; plain opens (openInputStream) ask for any type and pass.
    override fun openTypedAssetFile(uri: Uri, mimeTypeFilter: String, opts: Bundle?): AssetFileDescriptor? {
        if (mimeTypeFilter == "image/*") throw FileNotFoundException("typed image descriptors are refused on purpose, see the class comment")
        return super.openTypedAssetFile(uri, mimeTypeFilter, opts)
    }

    override fun getType(uri: Uri): String = if (uri.toString().endsWith(".png")) "image/png" else "image/jpeg"
    override fun query(uri: Uri, p: Array<out String>?, s: String?, a: Array<out String>?, o: String?): Cursor? = null
    override fun insert(uri: Uri, values: ContentValues?): Uri? = null
    override fun delete(uri: Uri, s: String?, a: Array<out String>?) = 0
    override fun update(uri: Uri, values: ContentValues?, s: String?, a: Array<out String>?) = 0

    companion object {
        const val AUTHORITY = "org.abpn.test.photos"
        fun uri(name: String): Uri = Uri.parse("content://$AUTHORITY/$name")
    }
}
