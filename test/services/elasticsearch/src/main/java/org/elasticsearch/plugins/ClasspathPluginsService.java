/*
 * Test-support only (im-bridge test/services): a PluginsService whose plugins are classes already on the JVM
 * classpath, instead of bundles unpacked under ES_HOME/modules and ES_HOME/plugins (Maven Central does not
 * publish the distribution's modules directory). It must live in org.elasticsearch.plugins to reach the
 * package-private loadPlugin / LoadedPlugin / loadExtensions. Written against Elasticsearch 8.19.x:
 *   PluginsService(Settings, Path configPath, PluginsLoader), PluginDescriptor 12-arg ctor,
 *   LoadedPlugin(descriptor, instance, classLoader).
 */
package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.common.settings.Settings;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

public class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(Settings settings, Path configPath, PluginsLoader loader,
                                   Collection<Class<? extends Plugin>> pluginClasses) {
        super(settings, configPath, loader);
        List<LoadedPlugin> list = new ArrayList<>();
        for (Class<? extends Plugin> cls : pluginClasses) {
            Plugin instance = loadPlugin(cls, settings, configPath);
            PluginDescriptor descriptor = new PluginDescriptor(
                cls.getName(),                // name
                "classpath plugin " + cls.getName(), // description
                "NA",                         // version
                Build.current().version(),    // elasticsearch.version
                "17",                         // java.version
                cls.getName(),                // classname
                null,                         // modulename: null = classic class-loader plugin
                List.of(),                    // extended plugins
                false,                        // has native controller
                false,                        // licensed
                false,                        // modular
                false                         // stable
            );
            list.add(new LoadedPlugin(descriptor, instance, cls.getClassLoader()));
        }
        loadExtensions(list);
        this.classpathPlugins = List.copyOf(list);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }
}
