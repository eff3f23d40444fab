#!/bin/sh
# Runs the Gradle version of gradle/wrapper/gradle-wrapper.properties (downloaded once into
# ~/.gradle/wrapper) through gradle/wrapper/gradle-wrapper.jar.
app_home=$(cd "$(dirname "$0")" && pwd -P)
jar="$app_home/gradle/wrapper/gradle-wrapper.jar"
if [ ! -f "$jar" ]; then
  echo "gradlew: $jar is missing: it could not be fetched where this repository was set up." >&2
  echo "Create it once with any Gradle 8.9+ (or open the project in Android Studio):" >&2
  echo "  gradle wrapper --gradle-version 8.9" >&2
  exit 1
fi
if [ -n "$JAVA_HOME" ]; then java="$JAVA_HOME/bin/java"; else java=java; fi
command -v "$java" >/dev/null 2>&1 || { echo "gradlew: no java (set JAVA_HOME to a JDK 17)" >&2; exit 1; }
exec "$java" $JAVA_OPTS $GRADLE_OPTS "-Dorg.gradle.appname=gradlew" -classpath "$jar" \
  org.gradle.wrapper.GradleWrapperMain "$@"
