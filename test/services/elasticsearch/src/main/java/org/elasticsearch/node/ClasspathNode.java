/*
 * Test-support only (im-bridge test/services): a Node whose plugins come from the classpath (see
 * ClasspathPluginsService). It must live in org.elasticsearch.node to reach the package-private
 * NodeConstruction.prepareConstruction and NodeServiceProvider (Elasticsearch 8.18/8.19 signatures).
 * Constructing a Node directly skips org.elasticsearch.bootstrap.Elasticsearch, hence bootstrap checks,
 * JarHell, the SecurityManager and the entitlement agent: fine for a loopback test node.
 */
package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

public class ClasspathNode extends Node {
    public ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(
            env,
            PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false),
            new NodeServiceProvider() {
                @Override
                PluginsService newPluginService(Environment environment, PluginsLoader loader) {
                    return new ClasspathPluginsService(environment.settings(), environment.configDir(), loader,
                        List.copyOf(plugins));
                }
            },
            true));
    }
}
