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
up-relay = Relé Nostr: { $url }
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

## Notificaciones

notify-none = no hay notificaciones
notify-unread = { $count ->
    [0] nada sin leer
    [one] 1 sin leer
   *[other] { $count } sin leer
}
notify-read-all = todas las notificaciones marcadas como leídas ({ $count } sin leer)
notify-reaction = { $others ->
    [0] { $who } reaccionó a tu publicación
   *[other] { $who } y { $others } más reaccionaron a tu publicación
}
notify-reply = { $others ->
    [0] { $who } respondió a tu publicación
   *[other] { $who } y { $others } más respondieron a tu publicación
}
notify-mention = { $others ->
    [0] { $who } te mencionó
   *[other] { $who } y { $others } más te mencionaron
}
notify-repost = { $others ->
    [0] { $who } compartió tu publicación
   *[other] { $who } y { $others } más compartieron tu publicación
}
notify-quote = { $others ->
    [0] { $who } citó tu publicación
   *[other] { $who } y { $others } más citaron tu publicación
}
notify-follow = { $others ->
    [0] { $who } empezó a seguirte
   *[other] { $who } y { $others } más empezaron a seguirte
}
notify-story-view = { $others ->
    [0] { $who } vio tu historia
   *[other] { $who } y { $others } más vieron tu historia
}
notify-order = { $others ->
    [0] { $who } hizo un pedido de tu anuncio
   *[other] { $who } y { $others } más hicieron pedidos de tu anuncio
}
notify-trade = { $who } avanzó tu compraventa
notify-review = { $who } valoró tu compraventa
notify-other = { $others ->
    [0] { $who }: { $type }
   *[other] { $who } y { $others } más: { $type }
}

## Sugerencias y estadísticas (kith suggest, kith stats)

suggest-none = aún no hay sugerencias: sigue primero a algunas personas
suggest-line = { $name } · { $key } · { $followers ->
    [one] 1 seguidor
   *[other] { $followers } seguidores
}
stats-totals = { $days ->
    [one] último día
   *[other] últimos { $days } días
}: { $posts ->
    [one] 1 publicación
   *[other] { $posts } publicaciones
} · { $reactions ->
    [one] 1 reacción
   *[other] { $reactions } reacciones
} · { $replies ->
    [one] 1 respuesta
   *[other] { $replies } respuestas
} · { $reposts ->
    [one] 1 difusión o cita
   *[other] { $reposts } difusiones y citas
}
stats-followers = { $followers ->
    [one] 1 seguidor
   *[other] { $followers } seguidores
} (+{ $gained } / −{ $lost } en el periodo)
stats-story-views = { $views ->
    [one] 1 visualización de historias
   *[other] { $views } visualizaciones de historias
}
stats-quiet = no recibiste interacciones en este periodo
stats-chart = interacciones recibidas por día (reacciones, respuestas, difusiones y citas):
stats-top = publicaciones destacadas:
stats-top-line = { $engagement } · { $text } · { $id }

## Historias
story-published = Historia publicada ({ $hours } h): { $id }
story-seen = Marcada como vista.
story-seen-receipt = Marcada como vista; se envió un aviso de visualización a quien la publicó.
story-viewers = { $count ->
    [one] 1 persona la vio:
   *[other] { $count } personas la vieron:
}
story-receipts-on = Avisos de visualización activados: quienes publican ven que viste sus historias.
story-receipts-off = Avisos de visualización desactivados.
highlight-published = Destacada «{ $name }» guardada: { $id }
highlights-none = No hay destacadas.
highlight-line = { $name } ({ $count ->
    [one] 1 historia
   *[other] { $count } historias
})
stories-none = No hay historias ahora.
stories-author = { $name } ({ $key }) · { $unseen } nuevas
story-line = { $id } · hasta { $expires }

## Reacciones, compartidos, citas e hilos recortados
event-reacted = reaccionaste con { $reaction }
reaction-published = reaccionaste con { $reaction } a { $target }: { $id }
reaction-removed = quitaste tu reacción { $reaction } a { $target }: { $id }
error-no-reaction = no tienes ninguna reacción a { $target } que quitar
repost-published = compartiste { $target }: { $id }
quote-published = cita de { $target } publicada { $id }
thread-hidden = … { $count ->
        [one] 1 respuesta más
       *[other] { $count } respuestas más
    }: kith thread { $id } --from-here

## Multimedia
media-processing = Procesando (miniaturas, versiones)…
media-metadata-removed = Se quitaron la ubicación y los datos de la cámara antes de guardarlo.
media-processing-failed = El procesado falló ({ $error }); el original está guardado y se puede publicar tal cual.
media-ffmpeg-missing = Este nodo no tiene ffmpeg: el archivo se guarda tal cual, sin duración, portada ni versiones.
media-pin-own = subido aquí
media-pin-followed = cuenta seguida
media-pins-total = { $count ->
    [one] 1 anclaje
   *[other] { $count } anclajes
}
media-gc-done = Se eliminaron { $blocks } bloques sin anclar (se soltaron { $unpinned } anclajes de cuentas seguidas para respetar la cuota).

# El puente con Nostr (kith nostr …, kith follow npub1…)
nostr-followed = ahora sigues la clave Nostr { $key }
nostr-unfollowed = dejaste de seguir la clave Nostr { $key }
nostr-linked = clave Nostr vinculada: { $npub }
nostr-sent = enviado a Nostr: { $id }
nostr-status-linked = clave Nostr vinculada: { $npub }
nostr-status-unlinked = no tienes clave Nostr vinculada (kith nostr link crea una)
nostr-status-no-relays = sin relés externos: tus notas se quedan en el relé de este nodo (kith nostr relays add wss://…)
nostr-status-relay = { $url } ({ $state }): { $sent } enviadas, { $pending } en espera, { $failed } fallidas
nostr-status-error = último error: { $error }
nostr-status-follow = sigues { $npub }
nostr-connected = conectado
nostr-disconnected = sin conexión
nostr-note-header = { $author } · { $time } · Nostr { $relays }
nostr-note-id = nota { $id }
nostr-reaction = reaccionó { $reaction } a { $target }

# Mensajes directos (kith dm, kith chats, kith chat, kith group)
dm-sent = enviado, cifrado de extremo a extremo: { $id }
chat-line = { $name } · { $unread } sin leer · { $last }
chats-none = todavía no hay conversaciones (kith dm kith1… "hola" empieza una)
chat-you = tú
chat-deleted = (eliminado)
chat-edited = (editado)
group-done = grupo { $id }

# El mercado (kith market …, kith trade …)
market-none = no se encontraron anuncios
market-categories-none = el nodo no ofrece categorías
market-listing-line = { $title } · { $price } · { $available ->
        [0] agotado
        [one] 1 disponible
       *[other] { $available } disponibles
    } · { $seller } · { $id }
market-withdrawn-tag = retirado
market-show-price = { $price } · { $condition } · { $category }
market-show-stock = { $available ->
        [0] agotado
        [one] 1 disponible
       *[other] { $available } disponibles
    } (de { $quantity })
market-show-seller = vende: { $seller }
market-reputation = reputación: ★ { $mean } ({ $count ->
        [one] 1 reseña
       *[other] { $count } reseñas
    })
market-reputation-none = reputación: todavía sin reseñas
market-show-location = ubicación: { $location }
market-show-delivery = entrega: { $options }
market-show-payment = pago: { $options }
market-show-photos = { $count ->
        [one] 1 foto
       *[other] { $count } fotos
    }
market-show-expires = a la venta hasta { $time }
market-show-withdrawn = retirado por quien lo vende: no está a la venta
market-show-dates = publicado { $created } · actualizado { $updated }
market-show-id = id { $id } · versión { $version }
market-show-order = para comprarlo: { $command }
market-condition-new = nuevo
market-condition-like_new = como nuevo
market-condition-good = buen estado
market-condition-fair = aceptable
market-condition-for_parts = para piezas
market-delivery-pickup = recogida en mano
market-delivery-shipping = envío
market-payment-cash_on_pickup = efectivo al recoger
market-payment-bank_transfer = transferencia bancaria
market-payment-payment_link = enlace de pago
market-payment-other = otro
market-listed = anuncio publicado: «{ $title }» a { $price }: { $id }
market-edited = anuncio «{ $title }» actualizado ({ $price }): { $id }
market-withdrawn = «{ $title }» ya no está a la venta: { $id }
market-edit-nothing = nada que cambiar: indica al menos un campo, como --price o --quantity
market-price-not-a-number = «{ $price }» no es un precio: escríbelo como 12.50 o 1500 (con punto antes de los decimales y sin separador de miles)
market-price-negative = un precio no puede ser negativo ({ $price })
market-price-decimals = { $price } tiene demasiados decimales: { $currency } { $max ->
        [0] no tiene decimales
        [one] tiene 1
       *[other] tiene { $max }
    }
market-price-too-large = { $price } { $currency } es un precio demasiado alto
trade-state-ordered = pedido
trade-state-accepted = aceptado
trade-state-declined = rechazado
trade-state-paid = pagado
trade-state-payment_confirmed = pago confirmado
trade-state-shipped = enviado
trade-state-delivered = entregado
trade-state-completed = completado
trade-state-cancelled = cancelado
trade-state-disputed = en disputa
trade-state-resolved = resuelto
trade-party-buyer = quien compra
trade-party-seller = quien vende
trade-action-accepted = aceptar el pedido (reserva las unidades)
trade-action-declined = rechazar el pedido
trade-action-paid = avisar de que has pagado
trade-action-payment_confirmed = confirmar que el pago llegó
trade-action-shipped = avisar de que lo enviaste (--tracking para el número de seguimiento)
trade-action-delivered = avisar de que ya tienes el artículo
trade-action-completed = confirmar que todo fue bien: el trato termina
trade-action-cancelled = cancelar el trato
trade-action-disputed = avisar de que algo salió mal
trade-action-resolved = dar la disputa por resuelta
trade-action-review = valorar a la otra parte (de 1 a 5, --text para unas palabras)
trade-next = lo que puedes hacer ahora:
trade-next-line = { $command } · { $action }
trade-waiting = nada que hacer por tu parte: esperando a la otra parte
trade-with-seller = compras a { $name }
trade-with-buyer = vendes a { $name }
trade-between = { $buyer } compra a { $seller }
trade-line = { $title } · { $state } · { $with } · { $time } · { $id }
trade-none = no hay tratos
trade-more = más: --before { $before }
trade-show-title = { $title } · { $quantity } × { $price } = { $total }
trade-show-state = estado: { $state }
trade-show-you-buy = compras tú; vende: { $seller }
trade-show-you-sell = vendes tú; compra: { $buyer }
trade-show-parties = compra: { $buyer } · vende: { $seller }
trade-show-terms = entrega: { $delivery } · pago: { $payment }
trade-history = historial:
trade-history-line = { $time } · { $state } por { $by }
trade-history-note = nota: { $note }
trade-history-tracking = seguimiento: { $tracking }
trade-details = datos enviados a quien vende (solo los veis vosotros dos):
trade-reviews = reseñas:
trade-show-dates = pedido { $created } · actualizado { $updated }
trade-show-id = trato { $id } · anuncio { $listing }
trade-ordered = pedido de { $quantity } × «{ $title }» por { $total }: trato { $id }
trade-details-sent = tus datos se enviaron solo a quien vende, cifrados de extremo a extremo
trade-now = trato { $id }: { $state }
trade-reviewed = reseña { $stars } publicada para el trato { $id }
