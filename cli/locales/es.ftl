# Mensajes del comando `kith`, en español.
# Cada idioma tiene un archivo con los mismos identificadores; ver cli/src/i18n.rs.

identity-created = identidad creada { $identity }
identity-exists = la identidad { $identity } ya existe
identity = identidad { $identity }
identity-new = identidad { $identity } (nueva)
data-dir = carpeta de datos { $path }
error-no-data-dir = no hay carpeta de datos: usa --data-dir o define KITH_DATA_DIR
error-cannot-access = no se puede acceder a { $path }: { $cause }
error-bad-key = { $path } no contiene una clave válida: { $cause }
error-other = { $error }
up-peer-id = id de par { $peer }
up-listening = escuchando en { $addr }
up-gateway = Pasarela (API HTTP): { $url }
up-running = en marcha; pulsa Ctrl-C para detener
up-stopping = deteniendo: terminando las escrituras…
up-stopped = detenido
error-config = configuración: { $cause }

## Hablar con un nodo

error-unreachable = no se puede contactar con el nodo en { $url }: { $cause } (¿está en marcha `kith up`?)
error-bad-response = respuesta inesperada del nodo ({ $status }): { $cause }
id-account = cuenta { $username }
id-admin = la identidad de este nodo (token de administración)
id-root-held = el nodo guarda la clave raíz
id-node = nodo { $url }
peers-none = ningún par conectado

## Publicaciones y listados

event-header = { $author } · { $time }
event-reply-to = ↳ en respuesta a { $parent }
event-quote-of = ❝ citando { $target }
event-repost-of = ↻ compartió { $target }
event-kind = ({ $kind })
event-media = { $count ->
        [one] 1 archivo adjunto
       *[other] { $count } archivos adjuntos
    }
event-counts = { $replies ->
        [one] 1 respuesta
       *[other] { $replies } respuestas
    } · { $reactions ->
        [one] 1 reacción
       *[other] { $reactions } reacciones
    } · { $reposts ->
        [one] 1 compartido
       *[other] { $reposts } compartidos
    }
event-id = id { $id }
post-published = publicado { $id }
reply-published = respuesta publicada { $id }
write-pending = el nodo lo guarda hasta que llegue el evento al que se refiere
listing-empty = aún no hay nada aquí
listing-more = más: --cursor { $cursor }
progress-pages = { $pages ->
        [one] 1 página leída
       *[other] { $pages } páginas leídas
    }, { $items ->
        [one] 1 elemento
       *[other] { $items } elementos
    }
thread-root-missing = (la primera publicación, { $id }, no ha llegado a este nodo)
thread-total = { $count ->
        [one] 1 respuesta en este hilo
       *[other] { $count } respuestas en este hilo
    }
thread-more = más: --after { $after }

## Personas

profile-name = nombre: { $name }
profile-langs = idiomas: { $langs }
profile-links = enlaces: { $links }
profile-updated = perfil actualizado { $id }
identity-counts = { $followers ->
        [one] 1 seguidor
       *[other] { $followers } seguidores
    } · sigue a { $following }
identity-followed = sigues a esta identidad
identity-hosted = alojada en este nodo
followed = ahora sigues a { $key }
unfollowed = dejaste de seguir a { $key }
blocked = bloqueaste a { $key }
unblocked = desbloqueaste a { $key }

## Claves

key-export-warning = quien tenga esta clave puede actuar como tú: guárdala en un lugar seguro y no la compartas
key-delegated = { $signer } puede firmar por ti hasta el { $until }; delegación { $id }
key-revoked = delegación { $id } revocada
key-revoked-compromised = delegación { $id } revocada; todo lo que firmó su clave queda anulado
key-none = no hay delegaciones
delegation-line = { $id } · clave { $signer } · hasta el { $until }
delegation-revoked = revocada
delegation-gateway = la clave de la pasarela
trending-none = todavía no hay tendencias
trending-line = #{ $tag } · { $authors ->
    [one] 1 persona
   *[other] { $authors } personas
} (ventana anterior: { $previous })
search-none = no se encontró nada
search-person = { $name } · { $key }
search-tag = #{ $tag } · { $posts ->
    [one] 1 publicación
   *[other] { $posts } publicaciones
}
